"""Docker Offload's session state for the ledger: ``docker offload status --format json``.

The reader is :class:`labadvisor.contexts.offload.OffloadStatusReader`, the same one behind
``labadvisor.contexts.offload.status()``; this module names it for the ledger, whose
sampler keeps one reader for its lifetime (so it remembers which output format works and
asks a missing plugin again only every few minutes). ``OffloadState`` is that reader's
:class:`~labadvisor.contexts.offload.OffloadStatus`.
"""

from __future__ import annotations

from labadvisor.contexts.offload import (
    ERROR,
    NOT_BILLED,
    NOT_INSTALLED,
    OffloadStatusReader,
    Runner,
    is_billable,
    parse_json,
    parse_plain,
    status,
)
from labadvisor.contexts.offload import OffloadStatus as OffloadState

__all__ = [
    "ERROR",
    "NOT_BILLED",
    "NOT_INSTALLED",
    "OffloadState",
    "OffloadStatusReader",
    "Runner",
    "is_billable",
    "parse_json",
    "parse_plain",
    "status",
]
