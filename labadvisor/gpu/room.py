"""``make_room()``: when a model does not fit on a GPU, which holders of its memory would
have to let go for it to fit ("18.2 GB needed, 9.1 GB free; notebook train.ipynb holds
12.0 GB"), for the runtime advice to name them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labadvisor.gpu.process_report import GpuProcess, HolderKind, UnitProcesses
from labadvisor.gpu.report import gb


@dataclass(frozen=True)
class Holding:
    """What one holder (a kernel with its children, a container, a process) has on a unit."""

    key: str  # GpuProcess.holder_key
    label: str
    holder: HolderKind
    memory: int
    processes: tuple[GpuProcess, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "holder": self.holder,
            "memory": self.memory,
            "pids": [p.pid for p in self.processes],
        }


@dataclass(frozen=True)
class Room:
    """How ``needed`` bytes could be made to fit on one unit."""

    unit: str  # the unit's label, "GPU 0" or "GPU 1 MIG 2"
    needed: int
    free: int | None
    fits: bool  # fits in the free memory as it is
    enough: bool  # fits, or would once the ``holders`` named here let go
    holders: tuple[Holding, ...]  # the fewest holders whose memory closes the gap
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "needed": self.needed,
            "free": self.free,
            "fits": self.fits,
            "enough": self.enough,
            "holders": [h.to_dict() for h in self.holders],
            "text": self.text,
        }


def holdings(unit: UnitProcesses) -> list[Holding]:
    """The unit's processes grouped by holder, largest first; a kernel counts with its
    children, and processes whose memory NVML does not give are left out."""
    groups: dict[str, list[GpuProcess]] = {}
    for process in unit.processes:
        if process.memory_used:
            groups.setdefault(process.holder_key, []).append(process)
    found = []
    for key, members in groups.items():
        first = members[0]
        label = first.label + ("" if all(p.verified for p in members) else " [unverified]")
        memory = sum(p.memory_used or 0 for p in members)
        found.append(Holding(key, label, first.holder, memory, tuple(members)))
    found.sort(key=lambda h: (-h.memory, h.key))
    return found


def make_room(needed: int, unit: UnitProcesses, free: int | None = None) -> Room:
    """Which holders on ``unit`` would free enough memory for ``needed`` bytes.

    ``free`` overrides the unit's own free-memory reading (the caller's may be newer).
    Picks the fewest holders: the smallest one that closes the gap alone if there is one,
    else the largest, and again for what is left.
    """
    if isinstance(needed, bool) or not isinstance(needed, int) or needed < 0:
        raise ValueError(f"needed must be a number of bytes, at least 0, got {needed!r}")
    free = unit.memory_free if free is None else free
    head = f"{gb(needed)} needed, {gb(free)} free on {unit.label}"
    if free is not None and needed <= free:
        return Room(unit.label, needed, free, True, True, (), f"{head}: it fits")
    candidates = holdings(unit)
    why_unknown = unit.error if not unit.valid else unit.unavailable.get("processes")
    if why_unknown:
        text = f"{head}; which processes hold the memory is unknown ({why_unknown})"
        return Room(unit.label, needed, free, False, False, (), text)
    if free is None:  # the gap is unknown: name the largest holders, promise nothing
        chosen = candidates[:3]
        return Room(unit.label, needed, free, False, False, tuple(chosen), _text(head, chosen))
    chosen, gap = [], needed - free
    while gap > 0 and candidates:
        closing = [h for h in candidates if h.memory >= gap]
        pick = closing[-1] if closing else candidates[0]  # smallest that closes it, or largest
        chosen.append(pick)
        candidates.remove(pick)
        gap -= pick.memory
    enough = gap <= 0
    text = _text(head, chosen)
    if not enough:
        held = sum(h.memory for h in chosen)
        text += (
            f"; even with all of it ({gb(held)}) freed, {gb(gap)} would be missing"
            if chosen
            else "; no process on it holds memory that could be freed"
        )
    return Room(unit.label, needed, free, False, enough, tuple(chosen), text)


def _text(head: str, chosen: list[Holding]) -> str:
    if not chosen:
        return head
    return head + "; " + " and ".join(f"{h.label} holds {gb(h.memory)}" for h in chosen)
