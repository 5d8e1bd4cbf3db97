"""Run slow work (plots, engine checks, context switches, GPU sampling) off the kernel thread.

Every panel that waits on something uses one :class:`BackgroundJobs`: jobs run one at a
time, in order, in a worker thread that exists only while there is work, so a panel never
blocks the kernel and never leaves an idle thread behind. Each job gets a
:class:`concurrent.futures.Future`. Jobs submitted under a ``group`` are latest-wins: a newer
job cancels the group's queued ones, and only the newest job's ``on_done`` is called, so a
slow answer to an old request never overwrites the answer to a newer one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)


@dataclass
class _Job(Generic[T]):
    label: str
    run: Callable[[], T]
    group: str | None
    on_done: Callable[[Future[T]], None] | None
    future: Future[T] = field(default_factory=Future)


class BackgroundJobs:
    """``submit(label, fn)`` runs ``fn`` in the worker thread ``thread_name``.

    ``on_change()`` is called whenever the job in progress changes: :attr:`current` is its
    label, None once the queue is empty (it is called on the submitting thread for the first
    job, then on the worker). ``daemon=False`` makes interpreter exit wait for the job in
    progress, for work that must not be killed midway (matplotlib's C++ drawing code).
    """

    def __init__(
        self,
        thread_name: str,
        *,
        on_change: Callable[[], None] | None = None,
        daemon: bool = True,
    ) -> None:
        self.thread_name = thread_name
        self._on_change = on_change
        self._daemon = daemon
        self._queue: deque[_Job[Any]] = deque()
        self._latest: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._retired = True  # the worker in _thread (if any) has taken its last job
        self._current: str | None = None

    @property
    def current(self) -> str | None:
        """The label of the job in progress (or about to start), None when idle."""
        with self._lock:
            return self._current

    @property
    def busy(self) -> bool:
        return self.current is not None

    def submit(
        self,
        label: str,
        run: Callable[[], T],
        *,
        group: str | None = None,
        on_done: Callable[[Future[T]], None] | None = None,
    ) -> Future[T]:
        """Queue ``run``; ``on_done(future)`` follows on the worker once it has finished,
        unless a newer job of the same ``group`` was submitted meanwhile."""
        job: _Job[T] = _Job(label, run, group, on_done)
        with self._lock:
            if group is not None:
                for stale in [j for j in self._queue if j.group == group]:
                    self._queue.remove(stale)
                    stale.future.cancel()
                self._latest[group] = job.future
            self._queue.append(job)
            started = self._current is None
            if started:
                self._current = label  # shown as in progress until the worker picks it up
            if self._retired:
                self._thread = threading.Thread(
                    target=self._work, name=self.thread_name, daemon=self._daemon
                )
                self._retired = False
                self._thread.start()
        if started:
            self._changed()
        return job.future

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has finished and the worker has ended; True
        unless the timeout ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or thread is threading.current_thread():
                return True
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
            with self._lock:
                if self._thread is thread:  # no newer worker was started meanwhile
                    self._thread = None
                    return True

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._queue.popleft() if self._queue else None
                self._current = job.label if job else None
            self._changed()
            if job is None:
                with self._lock:
                    if self._queue:
                        continue  # work arrived while observers were told about the idle state
                    self._retired = True
                    return
            self._run(job)

    def _run(self, job: _Job[Any]) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            result = job.run()
        except BaseException as exc:  # the future carries it to whoever looks
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        with self._lock:
            latest = job.group is None or self._latest.get(job.group) is job.future
        if latest and job.on_done is not None:
            _call(job.on_done, job.future)

    def _changed(self) -> None:
        if self._on_change is not None:
            _call(self._on_change)


def _call(callback: Callable[..., None], *args: Any) -> None:
    # A failing observer must not kill the worker: the queue behind it would never run.
    try:
        callback(*args)
    except Exception:
        _log.exception("labadvisor background job callback failed")
