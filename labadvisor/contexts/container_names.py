"""A container's name from its id, asked of the engine of the current Docker context: what
:func:`labadvisor.gpu.processes` takes as ``docker_names``, for the terminal, the magic, the
GPU panel and the server alike.

Best effort and bounded: each question waits at most ``timeout_s`` for the client and as
long again for the answer, and never raises. An id the engine does not know ("no such
container", 404) is simply unnamed. An engine that does not answer (or a context store that
names none) pauses the asking for ``pause_s``, so a panel reading its GPU holders every
second does not wait on a dead engine every second. Answers are kept ``remember_s`` (an
id names one container whichever engine said so); the engine asked is the one of the
context in effect at each question. docker-py is imported only when a container is first
named.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from labadvisor.contexts.deadline import call_within

if TYPE_CHECKING:
    import docker

    from labadvisor.contexts.store import StoredContext

NAME_TIMEOUT_S = 1.0
PAUSE_S = 30.0
REMEMBER_S = 60.0


class _EngineRefused(Exception):
    """The engine answered, with an error other than "no such container"."""


class ContainerNames:
    """``names(container_id)`` -> the container's name, or None. Safe to share between
    threads (one question at a time); :meth:`close` (or ``with``) closes its client."""

    def __init__(
        self,
        *,
        timeout_s: float = NAME_TIMEOUT_S,
        pause_s: float = PAUSE_S,
        remember_s: float = REMEMBER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.remember_s = remember_s
        self._clock = clock
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None
        self._context: StoredContext | None = None
        self._known: dict[str, tuple[str | None, float]] = {}  # id -> (name, kept until)
        self._paused_until = float("-inf")

    @property
    def paused(self) -> bool:
        """Whether the last failure to reach the engine still keeps it from being asked."""
        return self._clock() < self._paused_until

    def __call__(self, container_id: str) -> str | None:
        with self._lock:
            now = self._clock()
            known = self._known.get(container_id)
            if known is not None and now < known[1]:
                return known[0]
            if now < self._paused_until:
                return None
            try:
                name = self._ask(container_id)
            except _EngineRefused:  # it answered: ask again next time
                return None
            except Exception:  # no engine, no answer in time, no context: pause asking
                self._paused_until = now + self.pause_s
                self._drop_client()
                return None
            self._known[container_id] = (name, now + self.remember_s)
            return name

    def close(self) -> None:
        with self._lock:
            self._drop_client()

    def __enter__(self) -> ContainerNames:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _ask(self, container_id: str) -> str | None:
        import docker

        from labadvisor import contexts
        from labadvisor.contexts.resolve import stored_context

        context = stored_context(None)  # the store's files only: no engine asked
        if self._client is None or context != self._context:
            self._drop_client()
            self._client = contexts.client(timeout=self.timeout_s)
            self._context = context
        client = self._client

        def name_of(_left: float) -> str | None:
            try:
                name = client.containers.get(container_id).name
            except docker.errors.NotFound:
                return None  # not a container of this engine: unnamed
            except docker.errors.APIError as exc:
                raise _EngineRefused(str(exc)) from exc
            return name if isinstance(name, str) and name else None

        return call_within(self.timeout_s, name_of)

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        self._client = None
