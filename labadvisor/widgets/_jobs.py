"""Run slow work (engine checks, context switches, ``docker offload``) off the kernel thread.

Jobs run one at a time, in order, in a daemon thread that exists only while there is work,
so a panel never blocks the kernel and never leaves an idle thread behind.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

Job = tuple[str, Callable[[], None]]


class JobRunner:
    """``submit(label, fn)``; ``on_change()`` runs whenever the job in progress changes
    (``current`` is its label, None once idle) and ``on_error(label, exc)`` if a job raises."""

    def __init__(
        self,
        on_change: Callable[[], None],
        on_error: Callable[[str, BaseException], None],
        *,
        thread_name: str,
    ) -> None:
        self._on_change = on_change
        self._on_error = on_error
        self._thread_name = thread_name
        self._queue: deque[Job] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.current: str | None = None

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def submit(self, label: str, job: Callable[[], None]) -> None:
        with self._lock:
            self._queue.append((label, job))
            if self._idle.is_set():
                self.current = label  # shown as in progress until the worker picks it up
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=self._thread_name, daemon=True
                )
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted job has finished; True unless the timeout ran out."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                job = self._queue.popleft() if self._queue else None
                self.current = job[0] if job else None
            self._on_change()
            if job is not None:
                try:
                    job[1]()
                except Exception as exc:
                    self._on_error(job[0], exc)
                continue
            with self._lock:
                if self._queue:
                    continue  # work arrived while observers were told about the idle state
                self._thread = None
                self._idle.set()
                return
