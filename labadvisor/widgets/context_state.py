"""State of the Docker context panel: contexts and roles, the kernel's current one and why,
switching (kernel or global scope), engine reachability and the Docker Offload session.

Reading the context store is a few small files and happens on the caller's thread. Anything
that may wait on a network or a subprocess (engine pings, switches that check the target,
``docker offload``) runs as a background job (:mod:`labadvisor.widgets._jobs`); ``busy``
names what is in progress so a view can show it, and :meth:`wait` lets tests and scripts
block until it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Literal

from traitlets import Bool, HasTraits, Instance, List, Unicode

from labadvisor import contexts
from labadvisor.contexts import (
    ContextInfo,
    CurrentContext,
    EngineInfo,
    OffloadStatus,
    SwitchResult,
)
from labadvisor.widgets._jobs import BackgroundJobs

THREAD_NAME = "labadvisor-contexts"

Scope = Literal["kernel", "global"]  # labadvisor.contexts.SCOPES


class ContextState(HasTraits):
    """The store's ``contexts``, the ``current`` one and why, the ``engine`` behind it, the
    ``offload`` session, what is ``busy`` and the last ``error``. A failed switch sets
    ``error`` and leaves ``current`` on the context in use. ``global_scope`` makes
    :meth:`switch` write the docker CLI's config (all terminals) instead of this kernel's
    environment."""

    contexts = List(Instance(ContextInfo))
    current = Instance(CurrentContext, allow_none=True)
    engine = Instance(EngineInfo, allow_none=True)
    offload = Instance(OffloadStatus, allow_none=True)
    last_switch = Instance(SwitchResult, allow_none=True)
    error = Unicode(None, allow_none=True)
    # What is in progress ("checking the engine of docker-cloud", …), or None.
    busy = Unicode(None, allow_none=True)
    global_scope = Bool(False)

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        check_engine: bool = True,
        check_offload: bool = True,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self._jobs = BackgroundJobs(THREAD_NAME, on_change=self._jobs_changed)
        self.reload()
        if check_engine:
            self.check_engine()
        if check_offload:
            self.check_offload()

    # reading
    @property
    def role(self) -> str | None:
        """The role of the context in use: "local", "offload", "remote", or None."""
        return self.current.role if self.current else None

    def reload(self) -> None:
        """Read the store and the current context again (fast: no engine is contacted)."""
        try:
            listed = list(contexts.list_contexts())
            now = contexts.current()
        except contexts.ContextError as exc:
            self.error = str(exc)
            return
        with self.hold_trait_notifications():
            self.contexts, self.current = listed, now
            if self.engine is not None and self.engine.context != now.name:
                self.engine = None  # it described another context

    def context_names(self) -> list[str]:
        return [c.name for c in self.contexts]

    # actions (run in the background)
    def check_engine(self) -> None:
        """Ping the current context's engine and read its version, OS and GPU support."""
        name = self.current.name if self.current else "the current context"
        self._submit(f"checking the engine of {name}", self._check_engine)

    def switch(self, target: str, *, scope: Scope | None = None, check: bool = True) -> None:
        """Switch to ``target`` (a context name, "local" or "offload"). ``scope`` defaults to
        "global" when ``global_scope`` is on, else "kernel"."""
        chosen: Scope = scope or ("global" if self.global_scope else "kernel")
        where = "all terminals" if chosen == "global" else "this kernel"
        self._submit(f"switching {where} to {target}", lambda: self._switch(target, chosen, check))

    def check_offload(self) -> None:
        self._submit("asking Docker Offload for its status", self._check_offload)

    def start_offload(self, gpu: bool = True) -> None:
        self._submit(
            "starting Docker Offload (can take a few minutes)", lambda: self._offload("start", gpu)
        )

    def stop_offload(self) -> None:
        self._submit("stopping Docker Offload", lambda: self._offload("stop", False))

    def wait(self, timeout: float | None = None) -> bool:
        return self._jobs.wait(timeout)

    # jobs (worker thread)
    def _check_engine(self) -> None:
        self.engine = contexts.engine_info(timeout=self.timeout)

    def _switch(self, target: str, scope: Scope, check: bool) -> None:
        try:
            result = contexts.use(target, scope=scope, check=check, timeout=self.timeout)
        except (contexts.ContextError, ValueError) as exc:
            self.error = str(exc)
            self.reload()  # show the context really in use: the failed switch changed nothing
            return
        self.error = None
        self.last_switch = result
        self.reload()
        self._check_engine()

    def _check_offload(self) -> None:
        self.offload = contexts.offload.status()

    def _offload(self, action: str, gpu: bool) -> None:
        try:
            if action == "start":
                self.offload = contexts.offload.start(gpu=gpu)
            else:
                self.offload = contexts.offload.stop()
            self.error = None
        except contexts.ContextError as exc:
            self.error = str(exc)
            self._check_offload()
        # start/stop change which context the docker CLI uses globally.
        self.reload()

    def _submit(self, label: str, job: Callable[[], None]) -> None:
        self._jobs.submit(label, job, on_done=partial(self._job_done, label))

    def _jobs_changed(self) -> None:
        self.busy = self._jobs.current

    def _job_done(self, label: str, future: Future[None]) -> None:
        error = future.exception()
        if error is not None:
            self.error = f"{label} failed: {type(error).__name__}: {error}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "contexts": [c.to_dict() for c in self.contexts],
            "current": self.current.to_dict() if self.current else None,
            "engine": self.engine.to_dict() if self.engine else None,
            "offload": self.offload.to_dict() if self.offload else None,
            "global_scope": self.global_scope,
            "busy": self.busy,
            "error": self.error,
        }
