"""``LabAdvisor``: the server extension as a Jupyter ``ExtensionApp``, so the operator
configures it in the ``LabAdvisor`` section (``c.LabAdvisor.allow_context_switch = False``),
and it owns its worker pools, its usage ledger and the usage sampler: made when the
extension loads, shut down (the sampler's thread joined) when the server stops."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from labadvisor.contexts.container_names import ContainerNames
from labadvisor.server import holders, kernels
from labadvisor.server.handlers import ROUTES
from labadvisor.server.meter import OffloadMeter
from labadvisor.server.pools import Pool, SharedCalls

if TYPE_CHECKING:
    from labadvisor.contexts import KernelContext
    from labadvisor.gpu import GpuProcesses, KernelInfo
    from labadvisor.usage import HolderReading, LedgerBackend, UsageSampler

API_PREFIX = ("labadvisor", "api")
# How long a thread (a sampler tick, a runtime advice) waits for the event loop to list the
# kernels' notebooks; past it the kernels show as the server's other processes.
KERNEL_MAP_WAIT_S = 5.0


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

    ledger_workers = Int(
        2,
        help="Threads for reading the usage ledger (GET usage); a PostgreSQL ledger may "
        "take its connect timeout to answer.",
    ).tag(config=True)
    usage_interval_s = Float(
        60.0,
        help="Seconds between two samples of the usage ledger (GPU use, GPU memory by "
        "notebook, Docker context and Offload state); 0 turns sampling off.",
    ).tag(config=True)
    usage_retention_days = Float(90.0, help="Days of samples the usage ledger keeps.").tag(
        config=True
    )
    usage_url = Unicode(
        None,
        allow_none=True,
        help="Where the usage ledger is: postgresql://user:password@host/db (the lab's "
        "database), sqlite:///path or a file path. Unset: $LABADVISOR_USAGE_URL, else the "
        "local SQLite file $XDG_DATA_HOME/labadvisor/usage.sqlite3.",
    ).tag(config=True)

    @validate("usage_interval_s", "usage_retention_days")
    def _non_negative(self, proposal: Mapping[str, Any]) -> float:
        value = proposal["value"]
        name = proposal["trait"].name
        smallest = 0.0 if name == "usage_interval_s" else math.ulp(0.0)
        if not math.isfinite(value) or value < smallest:
            what = "0 (off) or more seconds" if smallest == 0 else "a number of days above 0"
            raise TraitError(f"c.LabAdvisor.{name} must be {what}, got {value!r}")
        return float(value)

    engine_pool: Pool
    nvml_pool: Pool
    advice_pool: Pool
    store_pool: Pool
    ledger_pool: Pool
    ledger: LedgerBackend
    sampler: UsageSampler | None
    meter: OffloadMeter
    container_names: ContainerNames

    def initialize_settings(self) -> None:
        self.engine_pool = Pool("engine-check", self.engine_workers, self.engine_max_waiting)
        self.nvml_pool = Pool("nvml", self.nvml_workers, self.max_waiting)
        self.advice_pool = Pool("advice", self.advice_workers, self.max_waiting)
        self.store_pool = Pool("context-store", self.store_workers, self.max_waiting)
        self.ledger_pool = Pool("usage-ledger", self.ledger_workers, self.max_waiting)
        self._gpu_calls: SharedCalls[dict[str, Any]] = SharedCalls()
        self._process_calls: SharedCalls[dict[str, Any]] = SharedCalls()
        # The event loop the server runs on (the sampler's thread asks it for sessions).
        io_loop = getattr(self.serverapp, "io_loop", None)
        loop = getattr(io_loop, "asyncio_loop", None)
        self._loop: asyncio.AbstractEventLoop | None = (
            loop if isinstance(loop, asyncio.AbstractEventLoop) else None
        )
        self._stopped = False
        self.meter = OffloadMeter()
        # One for the server's life, shared by every reader of the holders: it keeps names
        # and pauses asking while the engine does not answer.
        self.container_names = ContainerNames()
        self.sampler = None
        self.ledger = self._open_ledger()
        if self.usage_interval_s > 0:
            self.sampler = self._start_sampler()

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            (url_path_join(*API_PREFIX, route) + "/?", handler, {"extension": self})
            for route, handler in ROUTES
        )
        self.log.info("labadvisor: API registered at %s", url_path_join(*API_PREFIX))

    async def stop_extension(self) -> None:
        """Stop the sampler and join its thread (off the event loop, which its last tick may
        still be waiting on), close the ledger, drop the pools' waiting work. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        sampler, self.sampler = self.sampler, None
        if sampler is not None:
            await asyncio.to_thread(sampler.stop)
        self.ledger.close()
        self.container_names.close()
        pools = (self.engine_pool, self.nvml_pool, self.advice_pool, self.store_pool)
        for pool in (*pools, self.ledger_pool):
            pool.shutdown()

    # --- the server's kernels -----------------------------------------------------------

    @property
    def kernel_manager(self) -> Any:
        return getattr(self.serverapp, "kernel_manager", None)

    def live_kernel_ids(self) -> list[str]:
        return kernels.live_kernel_ids(self.kernel_manager)

    async def kernel_infos(self) -> dict[int, KernelInfo]:
        """pid -> kernel id, kernel name and notebook path of every kernel (event loop)."""
        session_manager = getattr(self.serverapp, "session_manager", None)
        return await kernels.kernel_infos(self.kernel_manager, session_manager)

    async def notebook_paths(self) -> dict[str, str]:
        session_manager = getattr(self.serverapp, "session_manager", None)
        return await kernels.notebook_paths(session_manager)

    def kernel_contexts(self, kernel_ids: Any = None) -> dict[str, KernelContext]:
        """The own contexts of the server's live kernels (blocking: reads files)."""
        from labadvisor.contexts import kernel_contexts

        live = self.live_kernel_ids() if kernel_ids is None else list(kernel_ids)
        if not live:
            return {}
        return kernel_contexts(kernels.connection_dir(self.kernel_manager), live)

    async def gpu_processes(self) -> dict[str, Any]:
        """``GET gpu/processes``: who holds GPU memory; concurrent requests share a call."""

        async def read() -> dict[str, Any]:
            infos = await self.kernel_infos()
            found = await self.nvml_pool.run(holders.read, infos, self.container_names)
            return holders.to_answer(found)

        return await self._process_calls.call("processes", read)

    # --- the usage ledger ---------------------------------------------------------------

    def _open_ledger(self) -> LedgerBackend:
        from labadvisor.usage import open_ledger

        return open_ledger(self.usage_url)

    def _start_sampler(self) -> UsageSampler:
        from labadvisor.server.recording import ServerLedger
        from labadvisor.usage import UsageSampler

        sampler = UsageSampler(
            ServerLedger(self.ledger, self.kernel_contexts),
            interval_s=self.usage_interval_s,
            retention_days=self.usage_retention_days,
            read_holders=self._sampled_holders,
            live_kernels=self.live_kernel_ids,
            read_offload=self.meter.read_offload,
        )
        sampler.start()
        self.log.info(
            "labadvisor: usage sampled every %g s into %s",
            self.usage_interval_s,
            self.ledger.location,
        )
        return sampler

    def _sampled_holders(self) -> list[HolderReading]:
        """The sampler's holders (its thread)."""
        return holders.holder_readings(self.holders_from_thread())

    def holders_from_thread(self) -> GpuProcesses:
        """Who holds GPU memory, attributed as ``GET gpu/processes`` does (kernels by their
        notebook, never "this kernel"), for a thread other than the event loop's: the
        kernel map is read on the loop, waiting up to :data:`KERNEL_MAP_WAIT_S`."""
        return holders.read(self._kernel_infos_from_thread(), self.container_names)

    def _kernel_infos_from_thread(self) -> dict[int, KernelInfo]:
        loop = self._loop
        if loop is None or not loop.is_running() or self._stopped:
            return {}
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                return {}  # waiting here would block the loop that must answer
        future = asyncio.run_coroutine_threadsafe(self.kernel_infos(), loop)
        try:
            return future.result(KERNEL_MAP_WAIT_S)
        except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
            future.cancel()
            logging.getLogger("labadvisor.server").debug("kernel map not read in time")
            return {}

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
