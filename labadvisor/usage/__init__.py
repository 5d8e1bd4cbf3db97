"""The usage ledger: what the GPUs and Docker Offload actually did, kept in SQLite.

A :class:`UsageSampler` (run by the server extension) writes one sample a minute: per GPU its
utilization and memory, per holder its GPU memory, the Docker context of the server and of
each kernel that switched on its own, and Docker Offload's session state. :func:`summary`
turns the ledger into hours per day and this month's Offload cost; :func:`measured_usage`
(and :func:`measured_hours_per_day`) is the figure behind ``hours_per_day="measured"``: GPU
busy hours plus Docker Offload hours per recorded day. Reads never create the ledger file
(:func:`existing_ledger` says whether there is one yet).

A lab's servers can all write to one PostgreSQL database instead (``LABADVISOR_USAGE_URL``
or ``c.LabAdvisor.usage_url`` = ``postgresql://...``, see :func:`open_ledger`), with the
local SQLite file as the spool for outages; :func:`lab_summary` is the admin's view of it.

Modules, by job: ``records`` (the values a tick records), ``schema`` (tables, migrations,
rollups), ``store`` (the backend interface and the SQLite ledger), ``ledger_file`` (is
there a ledger file yet), ``offload_status`` (``docker offload status``, JSON first),
``sampler`` (the thread) and ``summary``; for a lab, ``backends`` (URL -> ledger),
``pg_schema`` and ``postgres`` (the PostgreSQL ledger), ``spool``, ``redaction`` (URLs
without passwords), ``lab`` (:func:`lab_summary`) and ``demo``.
Importing this package reads nothing and imports neither pandas, pynvml nor psycopg.
"""

from __future__ import annotations

from labadvisor.usage.backends import open_ledger
from labadvisor.usage.demo import demo_lab
from labadvisor.usage.lab import LabSummary, lab_summary
from labadvisor.usage.ledger_file import existing_ledger
from labadvisor.usage.offload_status import OffloadState, OffloadStatusReader
from labadvisor.usage.postgres import PostgresLedger, migrate_lab
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
from labadvisor.usage.redaction import redact_url
from labadvisor.usage.sampler import UsageSampler, record_kernel_context
from labadvisor.usage.spool import SpoolLedger
from labadvisor.usage.store import LedgerBackend, SqliteLedger, default_path
from labadvisor.usage.summary import (
    DailyUsage,
    UsageSummary,
    measured_hours_per_day,
    measured_usage,
    summary,
)

__all__ = [
    "Batch",
    "ContextReading",
    "DailyUsage",
    "GpuReading",
    "HolderReading",
    "Identity",
    "KernelSwitch",
    "LabSummary",
    "LedgerBackend",
    "OffloadReading",
    "OffloadState",
    "OffloadStatusReader",
    "PostgresLedger",
    "Sample",
    "SpoolLedger",
    "SqliteLedger",
    "UsageSampler",
    "UsageSummary",
    "default_path",
    "demo_lab",
    "existing_ledger",
    "identity",
    "lab_summary",
    "measured_hours_per_day",
    "measured_usage",
    "migrate_lab",
    "open_ledger",
    "record_kernel_context",
    "redact_url",
    "summary",
]
