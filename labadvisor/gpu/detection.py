"""``detect()``: probe once, then answer from a cache until asked to refresh.

Never raises: a machine without a GPU, driver or nvidia-ml-py gets a report that says so.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from labadvisor.gpu import nvml
from labadvisor.gpu.report import GpuReport, Status
from labadvisor.gpu.visibility import CUDA_VAR, NVIDIA_VAR, Unit

EnvironKey = tuple[str | None, str | None]  # the values of CUDA_VAR and NVIDIA_VAR


@dataclass(frozen=True)
class Entry:
    """One probe's result. Later queries of the same units (the sampler's) use ``lib`` and
    ``handles`` from here, and compare entries to know when the cache was replaced."""

    report: GpuReport
    lib: nvml.Library | None  # the initialised NVML the handles belong to; None if it failed
    handles: dict[Unit, nvml.Handle]
    environ_key: EnvironKey


_lock = threading.Lock()
_entry: Entry | None = None


def detect(refresh: bool = False) -> GpuReport:
    """What GPUs this kernel can use, as a :class:`~labadvisor.gpu.report.GpuReport`.

    The first call loads NVML (through nvidia-ml-py) and asks it about every GPU; later
    calls return that answer from memory in microseconds, until ``refresh=True`` asks again.
    A change of ``CUDA_VISIBLE_DEVICES`` or ``NVIDIA_VISIBLE_DEVICES`` also makes the next
    call ask again. Only devices a CUDA program started now would see are listed; see
    :mod:`labadvisor.gpu.visibility` for the exact rules.
    """
    return current(refresh=refresh).report


def current(refresh: bool = False) -> Entry:
    """The cached entry, probing first when there is none, the visibility variables changed
    or ``refresh`` asks for it."""
    global _entry
    key = _environ_key()
    entry = _entry
    if entry is not None and not refresh and entry.environ_key == key:
        return entry
    with _lock:
        entry = _entry
        if entry is not None and not refresh and entry.environ_key == key:
            return entry  # another thread probed while this one waited
        _entry = entry = _probe(key)
    return entry


def peek() -> Entry | None:
    """The cached entry, without probing."""
    return _entry


def _use_backend(lib: nvml.Library | None) -> None:
    """Test seam, not API: detect through ``lib``, a pynvml stand-in, or through pynvml again
    when None. tests/fake_nvml.py's ``use_backend`` (behind the ``fake_nvml`` fixture) is the
    only caller. Shuts the current NVML session down and drops the cache, so no handle from
    one library ever reaches another; Samplers notice the new entry and bind to it."""
    global _entry
    with _lock:
        nvml.shutdown()
        nvml._backend = lib
        _entry = None


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


def _failure(status: Status, message: str, visibility: dict[str, str | None]) -> GpuReport:
    return GpuReport(status=status, message=message, visibility=visibility, checked_at=time.time())


def _environ_key() -> EnvironKey:
    return os.environ.get(CUDA_VAR), os.environ.get(NVIDIA_VAR)
