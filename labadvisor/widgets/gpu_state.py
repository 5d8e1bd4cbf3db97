"""State of the GPU panel: what detection found, in plain words, live readings, and which
processes hold GPU memory.

Live readings come from a background job (:mod:`labadvisor.widgets._jobs`) started by
:meth:`GpuState.start` or by setting ``running``. It ends on :meth:`GpuState.stop`, when the
panel is closed, when the state is garbage-collected and at interpreter exit (a kernel
shutting down), so no sampler thread outlives its panel. The holders of GPU memory
(:func:`labadvisor.gpu.processes`) are read on creation, on :meth:`GpuState.refresh` and
with each live reading, by that same job.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from collections.abc import Mapping
from functools import partial
from typing import Any

from traitlets import Bool, Float, HasTraits, Instance, Int, Unicode, observe, validate

from labadvisor import gpu
from labadvisor.contexts.container_names import ContainerNames
from labadvisor.gpu import GpuProcesses, GpuReport, GpuSample, KernelInfo
from labadvisor.gpu.processes import DockerNames
from labadvisor.widgets._jobs import BackgroundJobs

THREAD_NAME = "labadvisor-gpu-sampler"

# What each detection status means for the person reading the panel.
PLAIN_STATUS = {
    "ok": "This kernel can use {count} GPU unit(s).",
    "no-devices": (
        "The NVIDIA driver is running, but this kernel sees no GPU: none is installed, or "
        "CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES hides them. Work runs on the CPU "
        "here; large models belong on Docker Offload."
    ),
    "driver-not-loaded": (
        "There is an NVIDIA library but no running driver, so no GPU can be used here. "
        "Work runs on the CPU; large models belong on Docker Offload."
    ),
    "library-not-found": (
        "No NVIDIA GPU driver is installed (or it is not mounted into this container), so "
        "this kernel has no local GPU. Work runs on the CPU; large models belong on "
        "Docker Offload."
    ),
    "error": "GPU detection failed, so labadvisor treats this kernel as having no GPU.",
}

_live: weakref.WeakSet[GpuState] = weakref.WeakSet()


class GpuState(HasTraits):
    """Detection ``report``, device rows, the holders of GPU memory, and an optional live
    sampler.

    ``running`` is True while live readings are taken (set it, or call :meth:`start` /
    :meth:`stop`); each reading is appended to ``samples`` and counted in ``readings``.

    ``holders`` is what :func:`labadvisor.gpu.processes` last found, read again on
    :meth:`refresh` and with every live reading; ``holders_error`` says why it could not
    be read (the last good answer stays). ``kernel_pids`` (pid → :class:`KernelInfo`, as
    the Jupyter server knows its kernels) names other kernels by their notebook; without
    it they are found by their command lines and named as the local Jupyter servers'
    sessions say (else by their kernel id). Containers are named by
    ``docker_names`` (container id → name or None); by default the engine of the current
    Docker context is asked, through one
    :class:`~labadvisor.contexts.container_names.ContainerNames` for the panel's life.
    """

    report = Instance(GpuReport)
    interval = Float(1.0)
    running = Bool(False)
    readings = Int(0)
    live_error = Unicode(None, allow_none=True)
    holders = Instance(GpuProcesses, allow_none=True)
    holders_error = Unicode(None, allow_none=True)

    def __init__(
        self,
        *,
        interval: float = 1.0,
        history: int = 60,
        kernel_pids: Mapping[int, KernelInfo] | None = None,
        docker_names: DockerNames | None = None,
    ) -> None:
        super().__init__(interval=_check_interval(interval), report=gpu.detect())
        self.samples: deque[GpuSample] = deque(maxlen=history)
        self._sampler = BackgroundJobs(THREAD_NAME)
        self._stop = threading.Event()
        self._kernel_pids = kernel_pids
        self._docker_names = ContainerNames() if docker_names is None else docker_names
        try:
            self.holders = gpu.processes(kernel_pids, self._docker_names)
        except ValueError:  # kernel_pids that are not pid → KernelInfo: say so now
            raise
        except Exception as exc:
            self.holders_error = _holders_problem(exc)

    # detection
    def refresh(self) -> None:
        self.report = gpu.detect(refresh=True)
        self.read_holders()

    def read_holders(self) -> GpuProcesses | None:
        """Read the holders of GPU memory now, on this thread (the live loop does it after
        each reading); None, with ``holders_error`` set, when they could not be read."""
        try:
            found = gpu.processes(self._kernel_pids, self._docker_names)
        except Exception as exc:  # a panel shows why; the next reading tries again
            self.holders_error = _holders_problem(exc)
            return None
        with self.hold_trait_notifications():
            self.holders, self.holders_error = found, None
        return found

    @property
    def status_text(self) -> str:
        template = PLAIN_STATUS.get(self.report.status, PLAIN_STATUS["error"])
        return template.format(count=len(self.report.units()))

    def rows(self) -> list[dict[str, Any]]:
        """One row per usable unit (a GPU, or a MIG instance in MIG mode)."""
        rows = []
        for unit in self.report.units():
            total, used = unit.memory_total, unit.memory_used
            rows.append(
                {
                    "label": unit.label,
                    "name": unit.name,
                    "memory_total_gb": None if total is None else total / 1e9,
                    "memory_used_gb": None if used is None else used / 1e9,
                    "memory_free_gb": None if unit.memory_free is None else unit.memory_free / 1e9,
                    "memory_fraction": used / total if total and used is not None else None,
                    "utilization_gpu": getattr(unit, "utilization_gpu", None),
                }
            )
        return rows

    # live readings
    @property
    def last_sample(self) -> GpuSample | None:
        return self.samples[-1] if self.samples else None

    def start(self, interval: float | None = None) -> None:
        """Sample every ``interval`` seconds in the background until :meth:`stop`."""
        if interval is not None and not self.running:
            self.interval = interval
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling and wait for the sampler thread to end."""
        self.running = False
        self._sampler.wait(timeout)

    def sample_once(self) -> GpuSample:
        """Take one reading now, on this thread (what the live loop does each tick)."""
        reading = gpu.sample(interval=0)
        self.samples.append(reading)
        self.readings += 1
        return reading

    @validate("interval")
    def _valid_interval(self, proposal: Any) -> float:
        return _check_interval(proposal["value"])

    @observe("running")
    def _start_or_stop(self, change: Any) -> None:
        if change["new"]:
            self.live_error = None
            self._stop = threading.Event()
            # The job holds only a weak reference, so a forgotten panel can still be
            # collected, and collecting it ends the sampling.
            loop = partial(_sample_loop, weakref.ref(self), self._stop, self.interval)
            self._sampler.submit("live readings", loop)
            _live.add(self)
        else:
            self._stop.set()
            _live.discard(self)
            self._sampler.wait(5.0)  # no-op on the sampler's own thread (a failed reading)

    def __del__(self) -> None:
        stop = self.__dict__.get("_stop")
        if stop is not None:
            stop.set()


def _sample_loop(ref: weakref.ref[GpuState], stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        state = ref()
        if state is None:
            return
        try:
            state.sample_once()
        except Exception as exc:  # a broken reading must end the loop visibly, not silently
            state.live_error = f"live readings stopped: {type(exc).__name__}: {exc}"
            state.running = False
            return
        state.read_holders()  # never raises: a failure is the holders' own message
        del state  # do not keep the panel alive while waiting
        stop.wait(interval)


@atexit.register
def stop_all() -> None:
    """Stop every live sampler (runs at interpreter exit, e.g. when a kernel shuts down)."""
    for state in list(_live):
        state.stop(timeout=2.0)


def _holders_problem(exc: Exception) -> str:
    return f"could not read which processes hold GPU memory: {type(exc).__name__}: {exc}"


def _check_interval(interval: object) -> float:
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not (0.05 <= interval <= 3600)
    ):
        raise ValueError(f"interval must be between 0.05 and 3600 seconds, got {interval!r}")
    return float(interval)
