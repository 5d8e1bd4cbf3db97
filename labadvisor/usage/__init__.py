"""The usage ledger: what the GPUs and Docker Offload actually did, kept in SQLite.

A :class:`UsageSampler` (run by the server extension) writes one sample a minute: per GPU its
utilization and memory, per holder its GPU memory, the Docker context of the server and of
each kernel that switched on its own, and Docker Offload's session state. :func:`summary`
turns the ledger into hours per day and this month's Offload cost; :func:`measured_hours_per_day`
is the figure behind ``hours_per_day="measured"``.

Modules, by job: ``records`` (the values a tick records), ``schema`` (tables, migrations,
rollups), ``store`` (the backend interface and the SQLite ledger), ``offload_status``
(``docker offload status``, JSON first), ``sampler`` (the thread) and ``summary``.
Importing this package reads nothing and imports neither pandas nor pynvml.
"""

from __future__ import annotations

from labadvisor.usage.offload_status import OffloadState, OffloadStatusReader
from labadvisor.usage.records import (
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
from labadvisor.usage.sampler import UsageSampler, record_kernel_context
from labadvisor.usage.store import LedgerBackend, SqliteLedger, default_path
from labadvisor.usage.summary import DailyUsage, UsageSummary, measured_hours_per_day, summary

__all__ = [
    "Batch",
    "ContextReading",
    "DailyUsage",
    "GpuReading",
    "HolderReading",
    "Identity",
    "KernelSwitch",
    "LedgerBackend",
    "OffloadReading",
    "OffloadState",
    "OffloadStatusReader",
    "Sample",
    "SqliteLedger",
    "UsageSampler",
    "UsageSummary",
    "default_path",
    "identity",
    "measured_hours_per_day",
    "record_kernel_context",
    "summary",
]
