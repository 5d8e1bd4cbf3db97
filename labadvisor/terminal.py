"""How the ``labadvisor`` command shows results whose own text is meant for a notebook: the
GPU processes as a table, the usage summary with a one-line answer when nothing was recorded.

The magic returns the objects themselves (their HTML views); this module is the terminal's
rendering only, and imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from labadvisor.gpu.process_report import GpuProcesses
from labadvisor.gpu.report import gb

PROCESS_COLUMNS = ("DEVICE", "PID", "MEMORY", "SM", "HOLDER")
SAMPLER = "the labadvisor Jupyter server extension records one sample a minute while it runs"


def gpu_process_table(found: GpuProcesses) -> str:
    """A sentence (what was found, or why nothing can be), then one row per process and
    unit, largest holders first as NVML lists them, then what could not be read."""
    opening = "GPU processes" if found.status == "ok" else "No GPU processes to list"
    lines = [f"{opening}: {found.message}"]
    rows = [
        (
            unit.label,
            str(process.pid),
            gb(process.memory_used),
            "-" if process.sm_utilization is None else f"{process.sm_utilization}%",
            process.describe(),
        )
        for unit in found.devices
        for process in unit.processes
    ]
    if rows:
        lines.append("")
        lines += _table([PROCESS_COLUMNS, *rows])
    for unit in found.devices:
        why = unit.error if not unit.valid else unit.unavailable.get("processes")
        if why:
            lines.append(f"{unit.label}: processes unknown: {why}")
    lines += [f"note: {note}" for note in found.notes]
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    # Every column padded to its widest cell but the last, which runs on.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def usage_text(result: Any) -> str:
    """A UsageSummary with data: its line, then the peak GPU memory of each holder. With no
    samples (or no ledger file: NoUsageLedger), one line saying so."""
    from labadvisor.usage import UsageSummary

    if not isinstance(result, UsageSummary):
        return str(result)  # NoUsageLedger: its message
    if not result.has_data:
        return nothing_recorded(result)
    lines = [str(result)]
    if result.peak_gpu_memory_gb:
        lines.append("Peak GPU memory:")
        lines += [
            f"  {holder}: {peak:.1f} GB"
            for holder, peak in sorted(result.peak_gpu_memory_gb.items(), key=lambda kv: -kv[1])
        ]
    return "\n".join(lines)


def nothing_recorded(found: Any) -> str:
    """One line: the ledger exists but holds no samples for the period."""
    if found.recording_since is None:
        return (
            f"No usage recorded yet: the usage ledger at {found.location} has no samples "
            f"({SAMPLER})."
        )
    since = found.recording_since[:16].replace("T", " ")
    return (
        f"No usage recorded in the last {found.days} days: the usage ledger at "
        f"{found.location} has been recording since {since} but holds no samples in that "
        "period."
    )
