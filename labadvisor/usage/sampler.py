"""The background sampler: one tick every ``interval_s`` seconds into the ledger.

Every reading comes from an injected callable, so the server extension (and tests) decide
where GPU readings, GPU holders, the server's Docker context, the live kernels and Offload's
state come from; the defaults use :func:`labadvisor.gpu.sample`,
:func:`labadvisor.contexts.current` and ``docker offload status``. A source that fails is
skipped for that tick (logged once), never the whole tick.

Ticks sit on the interval grid (``ts`` a multiple of ``interval_s``), so several servers of
one user on one host write the same keys and the ledger keeps one row per GPU and minute.

Kernels that switch their own Docker context call :func:`record_kernel_context` (from the
kernel's process); the sampler reads the latest switch of each live kernel from the ledger.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from labadvisor.usage.backends import open_ledger
from labadvisor.usage.offload_status import OffloadState, OffloadStatusReader
from labadvisor.usage.records import (
    KERNEL_SCOPE_PREFIX,
    SERVER_SCOPE,
    SOURCE_CONTEXT,
    SOURCE_PLUGIN,
    Batch,
    ContextReading,
    GpuReading,
    HolderReading,
    Identity,
    KernelSwitch,
    OffloadReading,
    Sample,
    identity,
)
from labadvisor.usage.store import LedgerBackend, SqliteLedger

log = logging.getLogger("labadvisor.usage")
_T = TypeVar("_T")

DEFAULT_INTERVAL_S = 60.0
DEFAULT_RETENTION_DAYS = 90.0
ROLES = ("local", "offload", "remote")
_PRUNE_EVERY_S = 86400.0

GpuSource = Callable[[], Sequence[GpuReading]]
HolderSource = Callable[[], Sequence[HolderReading]]
ContextSource = Callable[[], "tuple[str, str | None]"]
KernelSource = Callable[[], Iterable[str]]
OffloadSource = Callable[[], "OffloadState | None"]


def read_gpus() -> list[GpuReading]:
    """Every valid GPU (or MIG instance) from :func:`labadvisor.gpu.sample`."""
    from labadvisor import gpu

    reading = gpu.sample(1.0)  # shared with panels polling at 1 Hz
    return [
        GpuReading(d.label, d.utilization_gpu, d.memory_used, d.memory_total)
        for d in reading.devices
        if d.valid
    ]


def read_server_context() -> tuple[str, str | None]:
    """The Docker context in force for this process and its role."""
    from labadvisor import contexts

    current = contexts.current()
    return current.name, current.role


def no_holders() -> list[HolderReading]:
    return []  # per-process GPU memory arrives with labadvisor.gpu.processes()


def no_kernels() -> list[str]:
    return []


def ledger_of(ledger: LedgerBackend | str | os.PathLike[str] | None) -> LedgerBackend:
    """A backend as given; a URL or path opened (see :func:`open_ledger`); None: the
    default SQLite file."""
    if ledger is None:
        return SqliteLedger()
    if isinstance(ledger, (str, os.PathLike)):
        return open_ledger(ledger)
    return ledger


class UsageSampler:
    """Takes one :class:`~labadvisor.usage.records.Sample` per interval in a daemon thread."""

    def __init__(
        self,
        ledger: LedgerBackend | str | os.PathLike[str] | None = None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        read_gpus: GpuSource = read_gpus,
        read_holders: HolderSource = no_holders,
        read_context: ContextSource = read_server_context,
        live_kernels: KernelSource = no_kernels,
        read_offload: OffloadSource | None = None,
        who: Identity | None = None,
        gpu_request: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = _positive(interval_s, "interval_s")
        self.retention_days = _positive(retention_days, "retention_days")
        self._owns_ledger = not hasattr(ledger, "write")
        self.ledger = ledger_of(ledger)
        self._read_gpus = read_gpus
        self._read_holders = read_holders
        self._read_context = read_context
        self._live_kernels = live_kernels
        self._read_offload = read_offload if read_offload is not None else _default_offload()
        self.who = who or identity()
        self.gpu_request = _gpu_request(gpu_request)
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pruned_at: float | None = None
        self.errors: dict[str, str] = {}  # source -> its last failure, for diagnostics

    # --- one tick ------------------------------------------------------------------------

    def sample_once(self, now: float | None = None) -> Sample:
        """Read every source, write one sample (and prune once a day); returns the sample."""
        now = self._clock() if now is None else now
        sample = self.take(now)
        self.ledger.write(Batch((sample,)))
        if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY_S:
            self.ledger.prune(self.retention_days, now=now)
            self._pruned_at = now
        return sample

    def take(self, now: float) -> Sample:
        """The sample for the grid point at or before ``now``, without writing it."""
        ts = int(now // self.interval_s * self.interval_s)
        gpus = tuple(self._guarded("gpus", self._read_gpus) or ())
        holders = tuple(self._guarded("holders", self._read_holders) or ())
        contexts: list[ContextReading] = []
        server_context = self._guarded("context", self._read_context)
        if server_context is not None:
            contexts.append(ContextReading(SERVER_SCOPE, *server_context))
        kernels = list(self._guarded("kernels", self._live_kernels) or ())
        if kernels:
            server = self.who.server
            own = self._guarded("kernels", lambda: self.ledger.kernel_contexts(server, kernels))
            contexts += [
                ContextReading(f"{KERNEL_SCOPE_PREFIX}{kernel}", name, role)
                for kernel, (name, role) in sorted((own or {}).items())
            ]
        offload = self._offload(any(c.role == "offload" for c in contexts))
        held = len({h.gpu for h in holders})
        return Sample(
            ts, self.interval_s, self.who.user, self.who.server, gpus, holders, tuple(contexts),
            offload, held, max(held, self.gpu_request),
        )  # fmt: skip

    def _offload(self, context_is_offload: bool) -> OffloadReading | None:
        state = self._guarded("offload", self._read_offload)
        if state is not None and state.answered:
            if state.state == "stopped" and not context_is_offload:
                return None  # nothing to record: no session, nothing pointed at one
            return OffloadReading(state.state, SOURCE_PLUGIN, state.billable)
        if context_is_offload:  # no plugin to ask: the context's time is an upper bound
            return OffloadReading("unknown", SOURCE_CONTEXT, True)
        return None

    def _guarded(self, source: str, read: Callable[[], _T]) -> _T | None:
        """What ``read`` returns, or None (logged once per distinct failure) if it raises."""
        try:
            value = read()
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if self.errors.get(source) != message:
                log.info("usage sampler: reading %s failed (%s); skipped", source, message)
            self.errors[source] = message
            return None
        self.errors.pop(source, None)
        return value

    # --- the thread ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start sampling (the first tick at once, then on the interval grid)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="labadvisor-usage", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop and join the thread; close the ledger if this sampler opened it."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        if self._owns_ledger:
            self.ledger.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # a bug must not end the sampling, nor flood the log
                log.debug("usage sampler tick failed", exc_info=True)
            now = self._clock()
            delay = (now // self.interval_s + 1) * self.interval_s - now
            if self._stop.wait(max(delay, 0.001)):
                return


def record_kernel_context(
    kernel_id: str,
    context: str | None,
    role: str | None,
    *,
    ledger: LedgerBackend | str | os.PathLike[str] | None = None,
    now: float | None = None,
) -> bool:
    """Record that kernel ``kernel_id`` switched to its own ``context`` (None: back to the
    server's). Called from the kernel's process; returns False if the write was deferred."""
    if not isinstance(kernel_id, str) or not kernel_id.strip():
        raise ValueError(f"kernel_id must be a non-empty string, got {kernel_id!r}")
    if context is not None and (not isinstance(context, str) or not context.strip()):
        raise ValueError(f"context must be a context name or None, got {context!r}")
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)} or None, got {role!r}")
    who = identity()
    switch = KernelSwitch(
        time.time() if now is None else now, who.user, who.server, kernel_id, context,
        role if context is not None else None,
    )  # fmt: skip
    owned = not hasattr(ledger, "write")
    backend = ledger_of(ledger)
    try:
        return backend.write(Batch(switches=(switch,)))
    finally:
        if owned:
            backend.close()


def _default_offload() -> OffloadSource:
    reader = OffloadStatusReader()
    return reader.read


GPU_REQUEST_ENV = "LABADVISOR_GPU_REQUEST"


def _gpu_request(value: int | None) -> int:
    """GPUs this server asks for: ``value``, else ``$LABADVISOR_GPU_REQUEST`` (a spawner
    profile can set it), else 0. A lab's GPU demand counts servers asking as well as holding."""
    source = "gpu_request"
    if value is None:
        text = os.environ.get(GPU_REQUEST_ENV, "").strip()
        if not text:
            return 0
        source = GPU_REQUEST_ENV
        try:
            value = int(text)
        except ValueError:
            log.warning("%s=%r is not a whole number of GPUs; taken as 0", GPU_REQUEST_ENV, text)
            return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{source} must be a whole number of GPUs, 0 or more, got {value!r}")
    return value


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number greater than 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a finite number greater than 0, got {value!r}")
    return float(value)
