"""Live readings of memory and utilization for panels that poll about once a second.

A :class:`Sampler` keeps the NVML handles from detection, so a reading is two NVML calls
per device and no re-initialisation. Fields a device does not support are asked once and
then skipped, and a GPU that is lost is not asked again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from labadvisor.gpu import detection, nvml
from labadvisor.gpu.report import GpuDevice, MigDevice
from labadvisor.gpu.sanity import check_memory


@dataclass(frozen=True)
class DeviceSample:
    """One usable unit (a whole GPU or a MIG instance) at one moment."""

    index: int
    mig_index: int | None
    label: str
    name: str
    memory_total: int | None = None
    memory_used: int | None = None
    memory_free: int | None = None
    utilization_gpu: int | None = None
    utilization_memory: int | None = None
    valid: bool = True
    error: str | None = None
    notes: tuple[str, ...] = ()  # e.g. why memory_free is None although NVML gave a figure

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["notes"] = list(self.notes)
        return fields


@dataclass(frozen=True)
class GpuSample:
    status: str
    timestamp: float  # time.time() of the reading
    devices: tuple[DeviceSample, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "timestamp": self.timestamp,
            "devices": [d.to_dict() for d in self.devices],
        }


@dataclass
class _Target:
    index: int
    mig_index: int | None
    label: str
    name: str
    handle: nvml.Handle
    skip: set[str] = field(default_factory=set)
    lost: str | None = None


class Sampler:
    """Reads the units :func:`~labadvisor.gpu.detect` found; cheap enough to call at 1 Hz."""

    def __init__(self) -> None:
        self._bind()

    def _bind(self) -> None:
        entry = detection.current()
        self.entry = entry
        self._lib = entry.lib
        self._errors = nvml.Errors.of(entry.lib) if entry.lib is not None else None
        self._targets = [
            _Target(
                index=unit.parent_index if isinstance(unit, MigDevice) else unit.index,
                mig_index=unit.index if isinstance(unit, MigDevice) else None,
                label=unit.label,
                name=unit.name,
                handle=entry.handles[_unit_key(unit)],
            )
            for unit in entry.report.units()
            if _unit_key(unit) in entry.handles
        ]

    def read(self) -> GpuSample:
        """One reading of every unit; never raises."""
        if detection.peek() is not self.entry:
            self._bind()  # detection was refreshed: its handles replace these
        devices = tuple(self._read_one(target) for target in self._targets)
        return GpuSample(self.entry.report.status, time.time(), devices)

    def watch(self, interval: float = 1.0, count: int | None = None) -> Iterator[GpuSample]:
        """Yield a reading every ``interval`` seconds (``count`` of them, or forever)."""
        _check_interval(interval, strictly_positive=True)
        next_at = time.monotonic()
        taken = 0
        while count is None or taken < count:
            yield self.read()
            taken += 1
            if count is not None and taken >= count:
                return
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # fell behind (a slow consumer): do not burst

    def _read_one(self, target: _Target) -> DeviceSample:
        if target.lost is not None:
            return _lost(target)
        memory = self._call(target, "memory", "nvmlDeviceGetMemoryInfo")
        util = self._call(target, "utilization", "nvmlDeviceGetUtilizationRates")
        if target.lost is not None:  # lost during this reading
            return _lost(target)
        checked = check_memory(
            _int_or_none(memory, "total"),
            _int_or_none(memory, "used"),
            _int_or_none(memory, "free"),
        )
        return DeviceSample(
            target.index,
            target.mig_index,
            target.label,
            target.name,
            memory_total=checked.total,
            memory_used=checked.used,
            memory_free=checked.free,
            utilization_gpu=_int_or_none(util, "gpu"),
            utilization_memory=_int_or_none(util, "memory"),
            notes=() if checked.problem is None else (checked.problem,),
        )

    def _call(self, target: _Target, what: str, name: str) -> Any:
        if what in target.skip or self._errors is None:
            return None
        try:
            return getattr(self._lib, name)(target.handle)
        except self._errors.lost as exc:
            target.lost = str(exc) or "GPU is lost"
        except Exception:
            target.skip.add(what)  # not supported here (e.g. utilization of a MIG instance)
        return None


_shared_lock = threading.Lock()
_shared: Sampler | None = None
_last: GpuSample | None = None
_last_at = 0.0


def sample(interval: float = 1.0) -> GpuSample:
    """A reading no older than ``interval`` seconds, from one process-wide :class:`Sampler`.

    Panels that each poll at 1 Hz share one NVML read per second this way; ``interval=0``
    always reads afresh.
    """
    global _shared, _last, _last_at
    _check_interval(interval, strictly_positive=False)
    with _shared_lock:
        now = time.monotonic()
        current = _shared is not None and detection.peek() is _shared.entry
        if _last is not None and now - _last_at < interval and current:
            return _last
        if _shared is None:
            _shared = Sampler()
        reading = _shared.read()
        _last, _last_at = reading, now
        return reading


def _int_or_none(struct: Any, name: str) -> int | None:
    value = getattr(struct, name, None)
    return int(value) if value is not None else None


def _lost(target: _Target) -> DeviceSample:
    return DeviceSample(
        target.index, target.mig_index, target.label, target.name, valid=False, error=target.lost
    )


def _unit_key(unit: GpuDevice | MigDevice) -> tuple[int, int | None]:
    if isinstance(unit, MigDevice):
        return (unit.parent_index, unit.index)
    return (unit.index, None)


def _check_interval(interval: float, *, strictly_positive: bool) -> None:
    bad = isinstance(interval, bool) or not isinstance(interval, (int, float))
    if not bad:
        bad = not math.isfinite(interval) or interval < 0 or (strictly_positive and interval == 0)
    if bad:
        bound = "greater than 0" if strictly_positive else "at least 0"
        raise ValueError(f"interval must be a finite number of seconds {bound}, got {interval!r}")
