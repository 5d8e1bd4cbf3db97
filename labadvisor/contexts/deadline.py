"""Whole-call deadlines for talking to an engine.

docker-py's ``timeout`` bounds each socket read, not the call: an endpoint that sends one byte a
second never trips it, and neither does a host name that takes a minute to resolve (the resolver
ignores socket timeouts). Shrinking socket deadlines cannot reach those cases without patching
every transport docker-py has (unix, TCP, TLS, ssh, npipe). So the conversation runs in a
worker thread and the caller waits for it with a deadline; a worker that misses it is
abandoned. Its own per-read timeout, set to the time left, ends it soon after in every case but
an endpoint that keeps dripping bytes; such workers are daemon threads (they never hold up
interpreter exit, as a ThreadPoolExecutor's would) and at most ``MAX_PENDING`` of them live at
once, so a storm of hostile endpoints costs a bounded number of idle threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from labadvisor.contexts.errors import quoted

MAX_TIMEOUT = 600.0
# Engine conversations that may be in flight at once, abandoned ones included.
MAX_PENDING = 32
# The worker's own timeout (set to the same deadline) says why more precisely than "too late"
# ("connection refused", "no answer within 3 s"), so it gets this long to report first.
_GRACE = 0.2
_Answer = TypeVar("_Answer")
_slots = threading.BoundedSemaphore(MAX_PENDING)


class DeadlineExceeded(Exception):
    """The work did not finish in time; ``started`` is False when it never got a worker."""

    def __init__(self, seconds: float, *, started: bool) -> None:
        super().__init__(f"not done within {seconds:g} s")
        self.seconds = seconds
        self.started = started

    @property
    def cause(self) -> str:
        if self.started:
            return f"no complete answer within {self.seconds:g} s"
        return (
            f"not tried: {MAX_PENDING} earlier engine checks are still waiting for engines "
            f"that do not answer"
        )


def check_timeout(value: object) -> float:
    """``value`` as seconds if it is a number with 0 < value <= MAX_TIMEOUT, else ValueError
    naming it and the range."""
    valid = f"a number of seconds greater than 0 and at most {MAX_TIMEOUT:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"timeout must be {valid}, got {quoted(value)}")
    # A float comparison: an int too large for a float is simply too large.
    if not 0 < value <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be {valid}, got {quoted(value)}")
    return float(value)


def call_within(seconds: float, work: Callable[[float], _Answer]) -> _Answer:
    """``work(seconds_left)`` run in a worker thread; its answer or its exception, or
    DeadlineExceeded once ``seconds`` (plus a short grace) have passed."""
    ends = time.monotonic() + seconds
    slots = _slots  # the worker releases the slot it took, whatever happens to the global
    if not slots.acquire(timeout=seconds):
        raise DeadlineExceeded(seconds, started=False)
    answers: list[_Answer] = []
    errors: list[BaseException] = []
    finished = threading.Event()

    def run() -> None:
        try:
            answers.append(work(max(ends - time.monotonic(), 0.0)))
        except BaseException as exc:  # handed to the caller, who decides
            errors.append(exc)
        finally:
            slots.release()
            finished.set()

    try:
        threading.Thread(target=run, name="labadvisor-engine-check", daemon=True).start()
    except BaseException:
        slots.release()
        raise
    if not finished.wait(max(ends - time.monotonic(), 0.0) + _GRACE):
        raise DeadlineExceeded(seconds, started=True)
    if errors:
        raise errors[0]
    return answers[0]
