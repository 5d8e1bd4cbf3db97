"""Worker threads for the blocking work behind the API, one bounded pool per kind of work.

Engine checks, NVML and advice each get their own pool, so a Docker engine that never
answers holds only engine-check threads: GPU readings and advice keep their own. Each pool
also bounds how much work may wait for a thread; beyond that a request is refused at once
(:class:`Busy`, a 503) rather than queued behind work that may take its full timeout.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")


class Busy(Exception):
    """A pool already holds as much work as it may; try again later."""


class Pool:
    """``workers`` threads for one kind of blocking work, and at most ``max_waiting`` calls
    waiting for one of them."""

    def __init__(self, name: str, workers: int, max_waiting: int) -> None:
        self.name = name
        self.workers = workers
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"labadvisor-{name}")
        self._lock = threading.Lock()
        self._in_flight = 0  # running or waiting, counted until the thread is done with it

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def run(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``func(*args, **kwargs)`` in one of the pool's threads; Busy when full."""
        with self._lock:
            if self._in_flight >= self.workers + self.max_waiting:
                raise Busy(
                    f"the server is busy with {self._in_flight} {self.name} calls "
                    f"({self.workers} running, the rest waiting); try again shortly"
                )
            self._in_flight += 1
        try:
            future = self._executor.submit(functools.partial(func, *args, **kwargs))
        except BaseException:
            self._done()
            raise
        # Counted down when the thread finishes, not when the caller stops waiting.
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _future: Future[Any] | None = None) -> None:
        with self._lock:
            self._in_flight -= 1

    def shutdown(self) -> None:
        """Drop waiting work; running calls end on their own time (their timeouts)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class SharedCalls(Generic[_T]):
    """Callers asking for the same key while a call for it runs share that call's answer."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[_T]] = {}

    def running(self, key: Hashable) -> asyncio.Future[_T] | None:
        return self._running.get(key)

    async def call(self, key: Hashable, start: Callable[[], Awaitable[_T]]) -> _T:
        """The answer of the call for ``key`` that runs now, or of ``start()`` if none."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(start())
            self._running[key] = running
            running.add_done_callback(functools.partial(self._forget, key))
        # shield: a caller that goes away does not cancel the others' answer
        return await asyncio.shield(running)

    def _forget(self, key: Hashable, future: asyncio.Future[_T]) -> None:
        if self._running.get(key) is future:
            del self._running[key]
        if not future.cancelled():
            future.exception()  # retrieved, so an error no one awaits is not logged twice
