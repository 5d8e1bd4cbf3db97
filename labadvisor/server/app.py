"""``LabAdvisor``: the server extension as a Jupyter ``ExtensionApp``, so the operator
configures it in the ``LabAdvisor`` section (``c.LabAdvisor.allow_context_switch = False``),
and it owns its worker pools: made when the extension loads, shut down when the server
stops."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Int

from labadvisor.server.handlers import ROUTES
from labadvisor.server.pools import Pool, SharedCalls

API_PREFIX = ("labadvisor", "api")


class LabAdvisor(ExtensionApp):
    """labadvisor's JSON API under ``<base_url>/labadvisor/api/``."""

    name = "labadvisor"
    # Lab is what users open; this extension only adds routes to it.
    load_other_extensions = True

    allow_context_switch = Bool(
        True,
        help="Whether users may switch the Docker context of the server's user "
        "(PUT contexts/current, and the 'Use local Docker engine' / 'Use Docker Offload' "
        "commands, which the front end hides when this is False).",
    ).tag(config=True)
    engine_workers = Int(8, help="Threads for Docker engine checks (switches and pings).").tag(
        config=True
    )
    nvml_workers = Int(2, help="Threads for NVML (GET gpu).").tag(config=True)
    advice_workers = Int(4, help="Threads for advice and option lists.").tag(config=True)
    store_workers = Int(
        4, help="Threads for reading and writing the Docker context store (no engine)."
    ).tag(config=True)
    engine_max_waiting = Int(
        32,
        help="Engine checks that may wait for a thread; beyond that a switch answers 503 at "
        "once rather than queueing behind checks that may each take their full timeout.",
    ).tag(config=True)
    max_waiting = Int(
        256,
        help="Calls that may wait for a thread of the NVML, advice or store pool (short "
        "calls); beyond that the API answers 503.",
    ).tag(config=True)

    engine_pool: Pool
    nvml_pool: Pool
    advice_pool: Pool
    store_pool: Pool

    def initialize_settings(self) -> None:
        self.engine_pool = Pool("engine-check", self.engine_workers, self.engine_max_waiting)
        self.nvml_pool = Pool("nvml", self.nvml_workers, self.max_waiting)
        self.advice_pool = Pool("advice", self.advice_workers, self.max_waiting)
        self.store_pool = Pool("context-store", self.store_workers, self.max_waiting)
        self._gpu_calls: SharedCalls[dict[str, Any]] = SharedCalls()

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            (url_path_join(*API_PREFIX, route) + "/?", handler, {"extension": self})
            for route, handler in ROUTES
        )
        self.log.info("labadvisor: API registered at %s", url_path_join(*API_PREFIX))

    async def stop_extension(self) -> None:
        for pool in (self.engine_pool, self.nvml_pool, self.advice_pool, self.store_pool):
            pool.shutdown()

    async def gpu_report(self, refresh: bool) -> dict[str, Any]:
        """``labadvisor.gpu.detect(refresh=...).to_dict()``, with ``read_at``. Requests that
        arrive while NVML is being asked share that answer: a refresh shares a refresh, a
        plain request shares whichever is running."""
        running = self._gpu_calls.running(True) if not refresh else None
        if running is not None:
            return await asyncio.shield(running)
        return await self._gpu_calls.call(refresh, lambda: self.nvml_pool.run(_gpu_report, refresh))


def _gpu_report(refresh: bool) -> dict[str, Any]:
    """The report with readings at most ``detect``'s default max_age (1 s) old: well inside
    the status bar's poll interval; ``read_at`` says when they were taken."""
    from labadvisor import gpu

    return gpu.detect(refresh=refresh).to_dict()
