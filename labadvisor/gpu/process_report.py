"""What :func:`labadvisor.gpu.processes` found: who holds GPU memory, per GPU and MIG
instance, as plain frozen dataclasses with dict, frame, text and HTML views.

Memory is in bytes in the data and GB (10**9 bytes) in the views, as in report.py.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from labadvisor.gpu.report import gb, utc_text

if TYPE_CHECKING:
    import pandas as pd

HolderKind = Literal["this-kernel", "jupyter-kernel", "container", "other", "not-visible"]
HOLDER_KINDS: tuple[str, ...] = (
    "this-kernel",
    "jupyter-kernel",
    "container",
    "other",
    "not-visible",
)


@dataclass(frozen=True)
class KernelInfo:
    """A Jupyter kernel as the server knows it; the server maps each kernel's pid to one,
    and :func:`labadvisor.gpu.processes` asks the local servers' sessions for another
    kernel it finds by its command line (name and path None where none answered)."""

    kernel_id: str
    name: str | None = None  # the kernel spec, e.g. "python3"
    notebook_path: str | None = None  # from the server's sessions; None for a bare kernel

    def to_dict(self) -> dict[str, Any]:
        return {
            "kernel_id": self.kernel_id,
            "name": self.name,
            "notebook_path": self.notebook_path,
        }


@dataclass(frozen=True)
class GpuProcess:
    """One compute process on one GPU or MIG instance, and who it belongs to.

    ``holder`` is "this-kernel" (the calling process or a descendant), "jupyter-kernel" (a
    kernel of the caller's ``kernel_pids`` map, or a process whose command line names a
    kernel connection file, or a descendant of either), "container" (its cgroup
    names a container), "other", or "not-visible" (no process with that pid holds a GPU in
    this PID namespace: NVML reported a pid of another namespace, usually the host's).
    ``verified`` is False when /proc did not let us check that the local process with this
    pid holds an NVIDIA device (another user's process); ``note`` says why.
    """

    pid: int
    holder: HolderKind
    memory_used: int | None = None  # bytes; None where NVML cannot tell (Windows WDDM)
    sm_utilization: int | None = None  # percent, NVML's newest sample for the pid
    memory_utilization: int | None = None  # percent of time its kernels read or wrote memory
    verified: bool = True
    via_pid: int | None = None  # the kernel or this process it descends from, if not itself
    kernel: KernelInfo | None = None
    container_id: str | None = None
    container_name: str | None = None
    user: str | None = None
    command: str | None = None
    note: str | None = None

    @property
    def holder_key(self) -> str:
        """Who to free memory from: processes with one key go away together."""
        if self.holder == "this-kernel":
            return "this-kernel"
        if self.holder == "jupyter-kernel" and self.kernel is not None:
            return f"kernel:{self.kernel.kernel_id}"
        if self.holder == "container" and self.container_id is not None:
            return f"container:{self.container_id}"
        return f"pid:{self.pid}"

    @property
    def label(self) -> str:
        """The holder in a few words: "this kernel", "notebook train.ipynb", "container
        web", "process 4121 (ana: python train.py)", "pid 938 (not visible from here)"."""
        if self.holder == "this-kernel":
            return "this kernel"
        if self.holder == "jupyter-kernel" and self.kernel is not None:
            if self.kernel.notebook_path:
                return f"notebook {self.kernel.notebook_path}"
            name = f"{self.kernel.name} " if self.kernel.name else ""
            return f"kernel {name}{self.kernel.kernel_id[:8]}"
        if self.holder == "container" and self.container_id is not None:
            return f"container {self.container_name or self.container_id[:12]}"
        if self.holder == "not-visible":
            return f"pid {self.pid} (not visible from here)"
        who = ": ".join(bit for bit in (self.user, _short(self.command)) if bit)
        return f"process {self.pid}" + (f" ({who})" if who else "")

    def describe(self) -> str:
        """The label with what qualifies it: the descendant's pid, unverified."""
        text = self.label
        if self.via_pid is not None:
            text += f" (child pid {self.pid})"
        if not self.verified:
            text += " [unverified]"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "holder": self.holder,
            "label": self.label,
            "memory_used": self.memory_used,
            "sm_utilization": self.sm_utilization,
            "memory_utilization": self.memory_utilization,
            "verified": self.verified,
            "via_pid": self.via_pid,
            "kernel_id": self.kernel.kernel_id if self.kernel else None,
            "kernel_name": self.kernel.name if self.kernel else None,
            "notebook_path": self.kernel.notebook_path if self.kernel else None,
            "container_id": self.container_id,
            "container_name": self.container_name,
            "user": self.user,
            "command": self.command,
            "note": self.note,
        }


@dataclass(frozen=True)
class UnitProcesses:
    """The compute processes of one GPU, or of one MIG instance of a GPU in MIG mode."""

    index: int  # the GPU's NVML index
    mig_index: int | None
    name: str
    uuid: str | None = None
    memory_total: int | None = None
    memory_used: int | None = None
    memory_free: int | None = None
    processes: tuple[GpuProcess, ...] = ()
    valid: bool = True
    error: str | None = None
    # "processes": why NVML gave no list; "process_utilization": why no SM figures.
    unavailable: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        mig = f" MIG {self.mig_index}" if self.mig_index is not None else ""
        return f"GPU {self.index}{mig}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "mig_index": self.mig_index,
            "label": self.label,
            "name": self.name,
            "uuid": self.uuid,
            "memory_total": self.memory_total,
            "memory_used": self.memory_used,
            "memory_free": self.memory_free,
            "processes": [p.to_dict() for p in self.processes],
            "valid": self.valid,
            "error": self.error,
            "unavailable": dict(self.unavailable),
        }


@dataclass(frozen=True)
class GpuProcesses:
    """The answer of :func:`labadvisor.gpu.processes`: one entry per visible GPU (or MIG
    instance), each with its processes; ``status`` is detection's."""

    status: str
    message: str
    devices: tuple[UnitProcesses, ...] = ()
    notes: tuple[str, ...] = ()
    read_at: float = 0.0  # time.time() of the NVML queries

    @property
    def processes(self) -> tuple[GpuProcess, ...]:
        """Every process on every unit, in device order (a process on two GPUs twice)."""
        return tuple(p for unit in self.devices for p in unit.processes)

    def unit(self, index: int, mig_index: int | None = None) -> UnitProcesses | None:
        """The entry of GPU ``index`` (MIG instance ``mig_index``), None if not listed."""
        for unit in self.devices:
            if unit.index == index and unit.mig_index == mig_index:
                return unit
        return None

    def to_dict(self) -> dict[str, Any]:
        """Strict JSON (no NaN, no infinities): what the server's route returns."""
        return {
            "status": self.status,
            "message": self.message,
            "devices": [u.to_dict() for u in self.devices],
            "notes": list(self.notes),
            "read_at": utc_text(self.read_at),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per process and unit, with the unit's label first."""
        import pandas as pd

        rows = [
            {"device": unit.label, "mig_index": unit.mig_index, **process.to_dict()}
            for unit in self.devices
            for process in unit.processes
        ]
        columns = ["device", "pid", "holder", "label", "memory_used", "sm_utilization"]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=columns)
        for column in ("mig_index", "memory_used", "sm_utilization", "memory_utilization"):
            frame[column] = frame[column].astype("Int64")
        frame["via_pid"] = frame["via_pid"].astype("Int64")
        return frame[columns + [c for c in frame.columns if c not in columns]]

    def __str__(self) -> str:
        lines = [f"GPU processes: {self.message}"]
        for unit in self.devices:
            lines.append(f"  {unit.label}: {unit.name}  {_unit_memory(unit)}")
            if not unit.valid:
                lines.append(f"    invalid: {unit.error}")
            elif "processes" in unit.unavailable:
                lines.append(f"    processes unknown: {unit.unavailable['processes']}")
            for process in unit.processes:
                sm = f"  SM {process.sm_utilization}%" if process.sm_utilization is not None else ""
                lines.append(
                    f"    {gb(process.memory_used):>9}  pid {process.pid:<8} "
                    f"{process.describe()}{sm}"
                )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        parts = [f"<div><strong>GPU processes</strong> — {_esc(self.message)}"]
        if any(unit.processes for unit in self.devices):
            parts.append(
                "<table><thead><tr><th>Device</th><th>PID</th><th>Holder</th><th>Memory</th>"
                "<th>SM</th><th>User</th><th>Command</th></tr></thead><tbody>"
            )
            for unit in self.devices:
                for process in unit.processes:
                    mine = process.holder == "this-kernel"
                    style = " style='font-weight:bold'" if mine else ""
                    sm = process.sm_utilization
                    parts.append(
                        f"<tr{style}><td>{_esc(unit.label)}</td><td>{process.pid}</td>"
                        f"<td>{_esc(process.describe())}</td>"
                        f"<td>{_esc(gb(process.memory_used))}</td>"
                        f"<td>{'—' if sm is None else f'{sm}%'}</td>"
                        f"<td>{_esc(process.user or '—')}</td>"
                        f"<td><code>{_esc(process.command or '—')}</code></td></tr>"
                    )
            parts.append("</tbody></table>")
        for unit in self.devices:
            why = unit.error if not unit.valid else unit.unavailable.get("processes")
            if why:
                parts.append(f"<br><small>{_esc(unit.label)}: {_esc(why)}</small>")
        parts.extend(f"<br><small>note: {_esc(note)}</small>" for note in self.notes)
        parts.append("</div>")
        return "".join(parts)


def _esc(text: str) -> str:
    # "$" too: Jupyter renders $...$ in HTML output as LaTeX, and command lines hold "$".
    return html.escape(text).replace("$", "&#36;")


def _short(command: str | None, length: int = 40) -> str | None:
    if command is None or len(command) <= length:
        return command
    return command[: length - 1] + "…"


def _unit_memory(unit: UnitProcesses) -> str:
    if unit.memory_free is None and unit.memory_total is None:
        return "memory unknown"
    return f"{gb(unit.memory_free)} free of {gb(unit.memory_total)}"
