"""NVML's memory figures, checked before advice relies on them.

NVML hands back unsigned 64-bit counters. A driver bug or a device in a bad state has been
seen to report more memory used than the GPU has, and ``free = total - used`` then wraps
round to about 18 EB: taken at its word, every model "fits". Figures that cannot all be
true make free memory unknown (so advice says the fit is unknown) and leave a note saying
what NVML said.
"""

from __future__ import annotations

from typing import NamedTuple

_MiB = 1024**2
# NVML's used + free may exceed total by rounding (drivers count in pages and MiB). Far
# more than that is a wrong reading, not rounding: 16 MiB, or 0.1 % of a large GPU.
_ROUNDING_MIN = 16 * _MiB
_ROUNDING_FRACTION = 0.001


class CheckedMemory(NamedTuple):
    total: int | None
    used: int | None
    free: int | None
    problem: str | None  # why free (and maybe used) became None; None when all is well


def check_memory(total: int | None, used: int | None, free: int | None) -> CheckedMemory:
    """``total``, ``used`` and ``free`` (bytes) as NVML gave them, with free memory made
    unknown when they contradict each other: a negative figure, used or free above total,
    or used + free above total by more than rounding."""
    if total is None:
        return CheckedMemory(None, used, free, None)  # nothing to check them against
    margin = max(_ROUNDING_MIN, int(total * _ROUNDING_FRACTION))
    bad_used = used is not None and (used < 0 or used > total)
    bad_free = free is not None and (free < 0 or free > total)
    too_much = used is not None and free is not None and used + free > total + margin
    if total < 0 or bad_used or bad_free or too_much:
        problem = (
            f"NVML reported {_gb(used)} used and {_gb(free)} free of {_gb(total)} in total, "
            "which cannot all be true; free memory is treated as unknown"
        )
        return CheckedMemory(
            total if total >= 0 else None, None if bad_used else used, None, problem
        )
    return CheckedMemory(total, used, free, None)


def _gb(n_bytes: int | None) -> str:
    if n_bytes is None:
        return "?"
    return f"{n_bytes / 1e9:,.1f} GB"
