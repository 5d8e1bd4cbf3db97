"""``detect()``: what GPUs there are is probed once and cached; how full and busy they are
is read again once the cached reading is ``max_age`` seconds old.

The inventory (which devices exist, their names, UUIDs, MIG layout and which ones this
kernel may use) changes only with the machine or the visibility variables, and costs a
full NVML enumeration. The readings (memory used and free, utilization, temperature,
power) change all the time and cost a few NVML calls per device through the handles the
probe kept, so they are never served older than asked for.

Concurrent callers share NVML work: while a probe or a reading runs, every other caller
that needs one waits for it and takes its answer rather than starting another.

Never raises: a machine without a GPU, driver or nvidia-ml-py gets a report that says so.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from labadvisor.gpu import nvml
from labadvisor.gpu.report import GpuReport, Status
from labadvisor.gpu.visibility import CUDA_VAR, NVIDIA_VAR, Unit

EnvironKey = tuple[str | None, str | None]  # the values of CUDA_VAR and NVIDIA_VAR

# How old a reading detect() may hand out by default: well inside the JupyterLab status
# bar's 10 s poll, and long enough that panels polling at 1 Hz share readings.
DEFAULT_MAX_AGE = 1.0


@dataclass(frozen=True)
class Entry:
    """One probe's result. Later readings of the same units (detect's and the sampler's) use
    ``lib`` and ``handles`` from here, and compare entries to know when the cache was
    replaced."""

    report: GpuReport
    lib: nvml.Library | None  # the initialised NVML the handles belong to; None if it failed
    handles: dict[Unit, nvml.Handle]
    environ_key: EnvironKey


@dataclass(frozen=True)
class _Reading:
    """The newest readings of ``entry``'s devices, taken at ``taken`` (time.monotonic())."""

    entry: Entry
    report: GpuReport
    taken: float


@dataclass
class _Flight:
    """NVML work in progress; callers that need the same work wait on ``done``."""

    kind: Literal["probe", "read"]
    key: EnvironKey
    generation: int
    entry: Entry | None  # the entry a "read" reads again
    base: GpuReport | None  # its newest report: devices lost since the probe stay lost
    done: threading.Event = field(default_factory=threading.Event)
    result: Entry | _Reading | None = None


_lock = threading.Lock()  # guards the four names below; never held while NVML works
_entry: Entry | None = None
_reading: _Reading | None = None
_flight: _Flight | None = None
_generation = 0  # bumped when the backend changes, so work begun before is not kept
_clock = time.monotonic  # a test seam, as _use_backend


def detect(refresh: bool = False, max_age: float = DEFAULT_MAX_AGE) -> GpuReport:
    """What GPUs this kernel can use, as a :class:`~labadvisor.gpu.report.GpuReport`.

    The first call loads NVML (through nvidia-ml-py) and asks it about every GPU. Later
    calls keep what that found out about the devices and read their memory, utilization,
    temperature and power again once the last reading is ``max_age`` seconds old
    (``0``: always; ``math.inf``: whatever was read last); the report's ``read_at`` says
    when. ``refresh=True`` asks about the devices again too, as does the next call after
    ``CUDA_VISIBLE_DEVICES`` or ``NVIDIA_VISIBLE_DEVICES`` changed. Only devices a CUDA
    program started now would see are listed; see :mod:`labadvisor.gpu.visibility`.
    """
    _check_max_age(max_age)
    key = _environ_key()
    while True:
        with _lock:
            entry = _entry
            if not refresh and entry is not None and entry.environ_key == key:
                if entry.lib is None:
                    return entry.report  # NVML failed: there is nothing to read
                reading = _reading
                if (
                    reading is not None
                    and reading.entry is entry
                    and _clock() - reading.taken < max_age
                ):
                    return reading.report
                kind: Literal["probe", "read"] = "read"
                base = reading.report if reading is not None and reading.entry is entry else None
            else:
                kind, base = "probe", None
            flight, lead = _join_or_start(kind, key, entry, base)
        if lead:
            _fly(flight)
        flight.done.wait()
        result = flight.result
        if result is None or flight.generation != _generation or flight.key != key:
            continue  # it failed, or the backend or the variables changed meanwhile
        if isinstance(result, _Reading):
            if refresh:
                continue  # a reading does not answer a refresh: go round and probe
            return result.report  # begun after this call started, or while it waited
        return _latest_report(result)


def _latest_report(entry: Entry) -> GpuReport:
    with _lock:
        reading = _reading
    return reading.report if reading is not None and reading.entry is entry else entry.report


def current(refresh: bool = False) -> Entry:
    """The cached entry, probing first when there is none, the visibility variables changed
    or ``refresh`` asks for it; concurrent probes are shared as in :func:`detect`."""
    key = _environ_key()
    while True:
        with _lock:
            entry = _entry
            if not refresh and entry is not None and entry.environ_key == key:
                return entry
            flight, lead = _join_or_start("probe", key, entry)
        if lead:
            _fly(flight)
        flight.done.wait()
        result = flight.result
        if isinstance(result, Entry) and flight.key == key and flight.generation == _generation:
            return result
        # else a reading was in flight, or something changed: go round
        refresh = refresh and not isinstance(result, Entry)


def peek() -> Entry | None:
    """The cached entry, without probing."""
    return _entry


def _join_or_start(
    kind: Literal["probe", "read"],
    key: EnvironKey,
    entry: Entry | None,
    base: GpuReport | None = None,
) -> tuple[_Flight, bool]:
    """The flight to wait for, and whether this caller must fly it. Called with _lock held.

    Whatever is in flight is joined: a probe answers both kinds of caller, a reading answers
    those who asked for one (the caller goes round again otherwise)."""
    global _flight
    if _flight is not None:
        return _flight, False
    _flight = _Flight(kind, key, _generation, entry, base)
    return _flight, True


def _fly(flight: _Flight) -> None:
    """Do the flight's NVML work, publish it if nothing changed meanwhile, and wake the
    waiters. Never raises."""
    global _entry, _reading, _flight
    result: Entry | _Reading | None = None
    try:
        if flight.kind == "probe":
            result = _probe(flight.key)
        elif flight.entry is not None:
            result = _read(flight.entry, flight.base or flight.entry.report)
    finally:  # even on KeyboardInterrupt, so no waiter waits for ever
        with _lock:
            if _flight is flight:
                _flight = None
            if result is not None and flight.generation == _generation:
                if isinstance(result, Entry):
                    _entry = result
                    _reading = _Reading(result, result.report, _clock())
                elif _entry is result.entry:
                    _reading = result
        flight.result = result
        flight.done.set()


def _use_backend(lib: nvml.Library | None) -> None:
    """Test seam, not API: detect through ``lib``, a pynvml stand-in, or through pynvml again
    when None. tests/fake_nvml.py's ``use_backend`` (behind the ``fake_nvml`` fixture) is the
    only caller. Shuts the current NVML session down and drops the cache, so no handle from
    one library ever reaches another; work in flight is not kept, and Samplers notice the
    new entry and bind to it."""
    global _entry, _reading, _generation
    with _lock:
        nvml.shutdown()
        nvml._backend = lib
        _entry = None
        _reading = None
        _generation += 1


def _probe(key: EnvironKey) -> Entry:
    visibility = {CUDA_VAR: key[0], NVIDIA_VAR: key[1]}
    try:
        lib = nvml.session()
        report, handles = nvml.probe(lib)
    except nvml.NvmlUnavailable as exc:
        return Entry(_failure(exc.status, exc.message, visibility), None, {}, key)
    except Exception as exc:  # a bug or an unforeseen NVML answer must not break a notebook
        message = f"GPU detection failed: {type(exc).__name__}: {exc}"
        return Entry(_failure("error", message, visibility), None, {}, key)
    return Entry(report, lib, handles, key)


def _read(entry: Entry, base: GpuReport) -> _Reading:
    taken = _clock()
    try:
        report = nvml.read_again(entry.lib, base, entry.handles)
    except Exception as exc:  # as in _probe; the report says the readings are old
        note = f"reading the GPUs again failed ({type(exc).__name__}: {exc}); readings are old"
        report = replace(base, notes=(*entry.report.notes, note))
    return _Reading(entry, report, taken)


def _failure(status: Status, message: str, visibility: dict[str, str | None]) -> GpuReport:
    now = time.time()
    return GpuReport(
        status=status, message=message, visibility=visibility, checked_at=now, read_at=now
    )


def _environ_key() -> EnvironKey:
    return os.environ.get(CUDA_VAR), os.environ.get(NVIDIA_VAR)


def _check_max_age(max_age: object) -> None:
    if (
        isinstance(max_age, bool)
        or not isinstance(max_age, (int, float))
        or math.isnan(max_age)
        or max_age < 0
    ):
        raise ValueError(
            f"max_age must be a number of seconds, at least 0 (math.inf for any age), "
            f"got {max_age!r}"
        )
