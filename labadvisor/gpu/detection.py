"""``detect()``: probe once, then answer from a cache until asked to refresh.

Never raises: a machine without a GPU, driver or nvidia-ml-py gets a report that says so.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from labadvisor.gpu import nvml
from labadvisor.gpu.report import GpuReport
from labadvisor.gpu.visibility import CUDA_VAR, NVIDIA_VAR, Unit


@dataclass(frozen=True)
class Entry:
    """One probe's result; the sampler holds on to it to know when its handles are stale."""

    report: GpuReport
    handles: dict[Unit, Any]
    environ_key: tuple[str | None, str | None]
    generation: int


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


def use_nvml(lib: Any | None) -> None:
    """Detect through ``lib``, a pynvml-compatible object (tests, benchmarks), or through
    the real pynvml again when None. Shuts the current NVML session down and drops the cache."""
    global _entry
    with _lock:
        nvml.set_library(lib)
        _entry = None


def _probe(key: tuple[str | None, str | None]) -> Entry:
    visibility = {CUDA_VAR: key[0], NVIDIA_VAR: key[1]}
    handles: dict[Unit, Any] = {}
    try:
        report, handles = nvml.probe()
    except nvml.NvmlUnavailable as exc:
        report = _failure(exc.status, exc.message, visibility)
    except Exception as exc:  # a bug or an unforeseen NVML answer must not break a notebook
        report = _failure("error", f"GPU detection failed: {type(exc).__name__}: {exc}", visibility)
    return Entry(report, handles, key, nvml.generation)


def _failure(status: Any, message: str, visibility: dict[str, str | None]) -> GpuReport:
    return GpuReport(status=status, message=message, visibility=visibility, checked_at=time.time())


def _environ_key() -> tuple[str | None, str | None]:
    return os.environ.get(CUDA_VAR), os.environ.get(NVIDIA_VAR)
