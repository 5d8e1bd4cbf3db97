"""The Offload meter behind ``GET usage``: whether Docker Offload is in use now, since
when, and what the ledger says it cost this month.

Offload is in use while the server's Docker context, or the own context of any kernel it
runs, has the role "offload". Since when:

- a kernel: the time it switched (from the file it published);
- the server: when ``config.json`` was last written as the meter first saw the server on
  Offload (a switch writes it, ``docker context use`` as much as ours); when the context
  comes from elsewhere (``DOCKER_CONTEXT``), the moment the meter first saw it. Kept until
  the server leaves Offload, so a later write to ``config.json`` (``docker login``) does
  not move it.

"since" is the earliest of those in force now. The meter also keeps the last session state
the sampler read from ``docker offload status``, and, each time the sampler runs, asks the
engine of the Offload context in use how many containers it runs: ``idle_since`` is when it
was first seen running none (None while one runs, or when the engine has not answered yet).
That is what the front end's idle reminder counts from.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labadvisor.gpu.report import utc_text

if TYPE_CHECKING:
    from labadvisor.contexts import KernelContext, OffloadStatus
    from labadvisor.usage import OffloadStatusReader, UsageSummary

OFFLOAD_ROLE = "offload"
# How long the sampler's thread waits for the Offload engine to say what it runs.
ENGINE_SECONDS = 5.0


@dataclass(frozen=True)
class ServerContext:
    """The server's Docker context as the meter needs it."""

    name: str
    role: str | None
    from_config: bool  # chosen by config.json (so its modification time dates a switch)
    config_path: str


@dataclass(frozen=True)
class OffloadUse:
    """Who is on Offload now: the server and/or kernels (kernel id -> context)."""

    active: bool
    context: str | None
    since: float | None
    server: bool
    kernels: dict[str, str]
    idle_since: float | None = None  # the Offload engine ran no container from then on


class OffloadMeter:
    """Remembers since when the server has been on Offload; safe to share between threads."""

    def __init__(
        self,
        reader: OffloadStatusReader | None = None,
        count_running: Callable[[str], int | None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._server_since: float | None = None
        self._reader = reader
        self._count_running = count_running or running_containers
        self._offload_context: str | None = None  # in use at the last observation
        self._idle_since: float | None = None
        self.last_state: OffloadStatus | None = None

    def observe(
        self,
        server: ServerContext | None,
        kernels: Mapping[str, KernelContext],
        now: float | None = None,
    ) -> OffloadUse:
        now = time.time() if now is None else now
        on_offload = server is not None and server.role == OFFLOAD_ROLE
        with self._lock:
            if not on_offload:
                self._server_since = None
            elif self._server_since is None:
                assert server is not None
                self._server_since = _switched_at(server, now)
            server_since = self._server_since
        offload_kernels = {
            kernel_id: published
            for kernel_id, published in sorted(kernels.items())
            if published.role == OFFLOAD_ROLE
        }
        starts = [k.switched_at for k in offload_kernels.values()]
        if server_since is not None:
            starts.append(server_since)
        context = (
            server.name
            if on_offload and server is not None
            else next((k.context for k in offload_kernels.values()), None)
        )
        with self._lock:
            if context != self._offload_context:
                self._idle_since = None  # another engine (or none): not yet looked at
            self._offload_context = context
            idle_since = self._idle_since
        return OffloadUse(
            active=bool(starts),
            context=context,
            since=min(starts) if starts else None,
            server=on_offload,
            kernels={kernel_id: k.context for kernel_id, k in offload_kernels.items()},
            idle_since=idle_since if starts else None,
        )

    def read_offload(self) -> OffloadStatus:
        """``docker offload status`` for the sampler, remembered for ``GET usage``."""
        if self._reader is None:
            from labadvisor.usage import OffloadStatusReader

            self._reader = OffloadStatusReader()
        state = self._reader.read()
        self.last_state = state
        self.watch_containers()
        return state

    def watch_containers(self, now: float | None = None) -> None:
        """Ask the Offload engine in use how many containers run, and date the idleness."""
        context = self._offload_context
        running = None if context is None else self._count_running(context)
        now = time.time() if now is None else now
        with self._lock:
            if context != self._offload_context:
                return  # switched while asking: the next sample looks at the new one
            if context is None or (running is not None and running > 0):
                self._idle_since = None
            elif running == 0 and self._idle_since is None:
                self._idle_since = now
            # running None: the engine did not answer, and what was known stands


def running_containers(context: str) -> int | None:
    """How many containers the engine of ``context`` runs; None when it does not say."""
    from labadvisor.contexts import ContextError
    from labadvisor.contexts.engine import engine_info

    try:
        info = engine_info(context, timeout=ENGINE_SECONDS)
    except ContextError:
        return None
    return info.containers_running if info.reachable else None


def _switched_at(server: ServerContext, now: float) -> float:
    if server.from_config:
        try:
            written = os.stat(server.config_path).st_mtime
        except OSError:
            return now
        if written <= now:
            return written
    return now


def usage_answer(
    use: OffloadUse,
    found: UsageSummary | None,
    *,
    state: OffloadStatus | None,
    message: str | None,
    sampling: bool,
) -> dict[str, Any]:
    """``GET usage``'s answer: the meter now, and the ledger's figures when it could be read
    (``found`` None: the ledger could not be read, ``message`` says why)."""
    offload: dict[str, Any] = {
        "active": use.active,
        "context": use.context,
        "since": None if use.since is None else utc_text(use.since),
        "server": use.server,
        "kernels": use.kernels,
        "state": None if state is None or not state.answered else state.state,
        "idle_since": None if use.idle_since is None else utc_text(use.idle_since),
        "seconds_month": 0.0,
        "cost_month": 0.0,
        "rate": 0.0,
        "upper_bound": False,
        "hours_per_day": None,
    }
    gpu: dict[str, Any] = {"busy_hours_per_day": None, "peak_memory_gb_by_notebook": {}}
    period: dict[str, Any] = {"days": None, "start": None, "end": None, "days_recorded": 0}
    recording_since = None
    location = None
    if found is not None:
        location = found.location
        recording_since = found.recording_since
        offload.update(
            seconds_month=_finite(found.offload_hours_month * 3600.0),
            cost_month=_finite(found.offload_cost_month),
            rate=_finite(found.offload_rate),
            upper_bound=found.offload_upper_bound,
            hours_per_day=_finite(found.offload_hours_per_day) if found.has_data else None,
            month=found.month,
        )
        gpu.update(
            busy_hours_per_day=(_finite(found.gpu_busy_hours_per_day) if found.has_data else None),
            peak_memory_gb_by_notebook={
                holder: _finite(value) for holder, value in found.peak_gpu_memory_gb.items()
            },
        )
        period.update(
            days=found.days,
            start=found.period_start,
            end=found.period_end,
            days_recorded=found.days_recorded,
            sampled_hours=_finite(found.sampled_hours),
        )
        if recording_since is None and message is None:
            message = f"nothing recorded yet in the usage ledger at {location}"
    return {
        "offload": offload,
        "gpu": gpu,
        "period": period,
        "recording_since": recording_since,
        "ledger": location,
        "sampling": sampling,
        "message": message,
    }


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0
