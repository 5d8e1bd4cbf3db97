"""State of the Docker context panel: contexts and roles, the kernel's current one and why,
switching (kernel or global scope), engine reachability and the Docker Offload session.

Reading the context store is a few small files and happens on the caller's thread. Anything
that may wait on a network or a subprocess (engine pings, switches that check the target,
``docker offload``) runs in a :class:`~labadvisor.widgets._jobs.JobRunner` thread; ``busy``
names what is in progress so a view can show it, and :meth:`wait` lets tests and scripts
block until it is done.
"""

from __future__ import annotations

from typing import Any

from labadvisor import contexts
from labadvisor.widgets._jobs import JobRunner
from labadvisor.widgets._state import Observable

THREAD_NAME = "labadvisor-contexts"


class ContextState(Observable):
    """Observers hear "contexts" (list/current changed), "engine", "offload", "busy" and
    "error". A failed switch sets ``error`` and leaves ``current`` on the context in use."""

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        check_engine: bool = True,
        check_offload: bool = True,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self.global_scope = False
        self.contexts: list[contexts.ContextInfo] = []
        self.current: contexts.CurrentContext | None = None
        self.engine: contexts.EngineInfo | None = None
        self.offload: contexts.OffloadStatus | None = None
        self.last_switch: contexts.SwitchResult | None = None
        self.error: str | None = None
        self._runner = JobRunner(self._busy_changed, self._job_failed, thread_name=THREAD_NAME)
        self.reload()
        if check_engine:
            self.check_engine()
        if check_offload:
            self.check_offload()

    # reading
    @property
    def busy(self) -> str | None:
        """What is in progress ("checking the engine of docker-cloud", …), or None."""
        return self._runner.current if self._runner.busy else None

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
            self._notify("error")
            return
        self.contexts, self.current = listed, now
        if self.engine is not None and self.engine.context != now.name:
            self.engine = None  # it described another context
        self._notify("contexts")

    def context_names(self) -> list[str]:
        return [c.name for c in self.contexts]

    # actions (run in the background)
    def check_engine(self) -> None:
        """Ping the current context's engine and read its version, OS and GPU support."""
        name = self.current.name if self.current else "the current context"
        self._submit(f"checking the engine of {name}", self._check_engine)

    def switch(self, target: str, *, scope: str | None = None, check: bool = True) -> None:
        """Switch to ``target`` (a context name, "local" or "offload"). ``scope`` defaults to
        "global" when ``global_scope`` is on, else "kernel"."""
        scope = scope or ("global" if self.global_scope else "kernel")
        where = "all terminals" if scope == "global" else "this kernel"
        self._submit(f"switching {where} to {target}", lambda: self._switch(target, scope, check))

    def check_offload(self) -> None:
        self._submit("asking Docker Offload for its status", self._check_offload)

    def start_offload(self, gpu: bool = True) -> None:
        self._submit(
            "starting Docker Offload (can take a few minutes)", lambda: self._offload("start", gpu)
        )

    def stop_offload(self) -> None:
        self._submit("stopping Docker Offload", lambda: self._offload("stop", False))

    def wait(self, timeout: float | None = None) -> bool:
        return self._runner.wait(timeout)

    def set_global_scope(self, value: bool) -> None:
        self.global_scope = bool(value)
        self._notify("scope")

    # jobs (worker thread)
    def _check_engine(self) -> None:
        self.engine = contexts.engine_info(timeout=self.timeout)
        self._notify("engine")

    def _switch(self, target: str, scope: str, check: bool) -> None:
        try:
            result = contexts.use(target, scope=scope, check=check, timeout=self.timeout)
        except (contexts.ContextError, ValueError) as exc:
            self.error = str(exc)
            self.reload()  # show the context really in use: the failed switch changed nothing
            self._notify("error")
            return
        self.error = None
        self.last_switch = result
        self.reload()
        self._check_engine()

    def _check_offload(self) -> None:
        self.offload = contexts.offload.status()
        self._notify("offload")

    def _offload(self, action: str, gpu: bool) -> None:
        try:
            if action == "start":
                self.offload = contexts.offload.start(gpu=gpu)
            else:
                self.offload = contexts.offload.stop()
            self.error = None
        except contexts.ContextError as exc:
            self.error = str(exc)
            self._notify("error")
            self._check_offload()
        # start/stop change which context the docker CLI uses globally.
        self.reload()
        self._notify("offload")

    def _submit(self, label: str, job: Any) -> None:
        self._runner.submit(label, job)
        self._notify("busy")

    def _busy_changed(self) -> None:
        self._notify("busy")

    def _job_failed(self, label: str, exc: BaseException) -> None:
        self.error = f"{label} failed: {type(exc).__name__}: {exc}"
        self._notify("error")

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
