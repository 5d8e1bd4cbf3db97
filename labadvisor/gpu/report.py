"""What detection found, as plain frozen dataclasses with text, HTML, dict and frame views.

Memory is in bytes everywhere in the data; the views print GB (10**9 bytes) so figures line
up with :func:`labadvisor.estimate_memory`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from labadvisor.theme_colours import SUCCESS_TEXT, WARNING_TEXT

if TYPE_CHECKING:
    import pandas as pd

Status = Literal["ok", "no-devices", "driver-not-loaded", "library-not-found", "error"]
STATUSES: tuple[str, ...] = ("ok", "no-devices", "driver-not-loaded", "library-not-found", "error")


# The opening words of a report for each status (issue 13: a sentence, not a status code).
_HEADLINES = {
    "ok": "This kernel can use {count} GPU unit{s}",
    "no-devices": "This kernel sees no GPU",
    "driver-not-loaded": "This kernel cannot use a GPU",
    "library-not-found": "This kernel has no local GPU",
    "error": "This kernel is treated as having no GPU",
}


@dataclass(frozen=True)
class MigDevice:
    """One MIG instance: CUDA uses it as a device of its own, with its own memory."""

    index: int  # slot on the parent, as nvmlDeviceGetMigDeviceHandleByIndex numbers it
    parent_index: int
    name: str
    uuid: str | None = None
    memory_total: int | None = None
    memory_used: int | None = None
    memory_free: int | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    cuda_index: int | None = None
    # False for the second and later visible MIG instances: CUDA enumerates only one.
    cuda_visible: bool = True
    valid: bool = True
    error: str | None = None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what is odd about this instance's readings

    @property
    def label(self) -> str:
        return f"GPU {self.parent_index} MIG {self.index}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mig",
            "index": self.index,
            "parent_index": self.parent_index,
            "label": self.label,
            "name": self.name,
            "uuid": self.uuid,
            "memory_total": self.memory_total,
            "memory_used": self.memory_used,
            "memory_free": self.memory_free,
            "gpu_instance_id": self.gpu_instance_id,
            "compute_instance_id": self.compute_instance_id,
            "cuda_index": self.cuda_index,
            "cuda_visible": self.cuda_visible,
            "valid": self.valid,
            "error": self.error,
            "unavailable": dict(self.unavailable),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GpuDevice:
    """One physical GPU visible to this kernel. Fields NVML could not give are None and the
    reason is in ``unavailable``; a device that stopped answering has ``valid=False``."""

    index: int  # NVML index (PCI bus order), as nvidia-smi numbers it
    name: str
    uuid: str | None = None
    memory_total: int | None = None
    memory_used: int | None = None
    memory_free: int | None = None
    utilization_gpu: int | None = None  # percent of time a kernel ran, last sample period
    utilization_memory: int | None = None  # percent of time memory was read or written
    compute_capability: tuple[int, int] | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    mig_mode: bool | None = None
    mig_devices: tuple[MigDevice, ...] = ()
    cuda_index: int | None = None
    valid: bool = True
    error: str | None = None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what is odd about this GPU's readings (NVML contradicting itself)

    @property
    def label(self) -> str:
        return f"GPU {self.index}"

    def units(self) -> list[GpuDevice | MigDevice]:
        """What CUDA can run on here: the GPU itself, or in MIG mode the MIG instance CUDA
        enumerates."""
        if not self.valid:
            return []
        if self.mig_mode:
            return [m for m in self.mig_devices if m.valid and m.cuda_visible]
        return [self]

    def to_dict(self) -> dict[str, Any]:
        cc = self.compute_capability
        return {
            "kind": "gpu",
            "index": self.index,
            "label": self.label,
            "name": self.name,
            "uuid": self.uuid,
            "memory_total": self.memory_total,
            "memory_used": self.memory_used,
            "memory_free": self.memory_free,
            "utilization_gpu": self.utilization_gpu,
            "utilization_memory": self.utilization_memory,
            "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
            "temperature_c": self.temperature_c,
            "power_w": self.power_w,
            "power_limit_w": self.power_limit_w,
            "mig_mode": self.mig_mode,
            "mig_devices": [m.to_dict() for m in self.mig_devices],
            "cuda_index": self.cuda_index,
            "valid": self.valid,
            "error": self.error,
            "unavailable": dict(self.unavailable),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class GpuReport:
    """The answer of :func:`labadvisor.gpu.detect`; ``devices`` holds only visible GPUs."""

    status: Status
    message: str
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    devices: tuple[GpuDevice, ...] = ()
    hidden_count: int = 0  # GPUs NVML sees that the visibility variables hide
    notes: tuple[str, ...] = ()
    visibility: Mapping[str, str | None] = field(default_factory=dict)
    checked_at: float = 0.0  # time.time() of the probe: which devices there are, and names
    read_at: float = 0.0  # time.time() of the readings: memory, utilization, temperature, power

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def units(self) -> list[GpuDevice | MigDevice]:
        """Every device this kernel's CUDA can use: whole GPUs and the MIG instance CUDA
        enumerates, in report order."""
        return [unit for device in self.devices for unit in device.units()]

    def best_device(self) -> GpuDevice | MigDevice | None:
        """The usable GPU or MIG instance with the most free memory (first one on a tie)."""
        units = self.units()
        return best_of(units) if units else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the Jupyter server handler returns exactly this)."""
        best = self.best_device()
        return {
            "status": self.status,
            "message": self.message,
            "driver_version": self.driver_version,
            "cuda_driver_version": self.cuda_driver_version,
            "devices": [d.to_dict() for d in self.devices],
            "best_device": best.label if best is not None else None,
            "hidden_count": self.hidden_count,
            "notes": list(self.notes),
            "visibility": dict(self.visibility),
            "checked_at": self.checked_at,
            "read_at": utc_text(self.read_at),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per GPU and per MIG instance."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for device in self.devices:
            row = device.to_dict()
            row.pop("mig_devices")
            rows.append(row)
            rows.extend(m.to_dict() for m in device.mig_devices)
        columns = ["kind", "label", "name", "uuid", "memory_total", "memory_used", "memory_free"]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=columns)
        # Nullable integers, so a missing reading does not turn a column into floats.
        for column in _INTEGER_COLUMNS & set(frame.columns):
            frame[column] = frame[column].astype("Int64")
        return frame[columns + [c for c in frame.columns if c not in columns]]

    @property
    def headline(self) -> str:
        """A sentence for people, opening both reprs: what this kernel has, then why (the
        detection's message), the status last in parentheses."""
        return f"{self._lead()}: {self._why()}"

    def _lead(self) -> str:
        count = len(self.units())
        template = _HEADLINES.get(self.status, _HEADLINES["error"])
        return template.format(count=count, s="" if count == 1 else "s")

    def _why(self) -> str:
        return f"{self.message.rstrip('.')} (status: {self.status})."

    def __str__(self) -> str:
        lines = [self.headline]
        versions = _versions(self)
        if versions:
            lines.append(f"  {versions}")
        for device in self.devices:
            lines.append(f"  {device.label}: {device.name}  {_device_summary(device)}")
            lines.extend(f"    note: {note}" for note in device.notes)
            for mig in device.mig_devices:
                lines.append(f"    {mig.label}: {mig.name}  {_memory_text(mig)}")
                lines.extend(f"      note: {note}" for note in mig.notes)
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = SUCCESS_TEXT if self.ok else WARNING_TEXT
        parts = [
            f"<div><strong style='color:{colour}'>{esc(self._lead())}</strong>: {esc(self._why())}"
        ]
        versions = _versions(self)
        if versions:
            parts.append(f"<br><small>{esc(versions)}</small>")
        if self.devices:
            parts.append(
                "<table><thead><tr><th>Device</th><th>Name</th><th>Memory free / total</th>"
                "<th>Util.</th><th>Compute cap.</th><th>Temp.</th><th>Power</th></tr></thead>"
                "<tbody>"
            )
            for device in self.devices:
                cc = device.compute_capability
                parts.append(
                    f"<tr><td>{esc(device.label)}</td><td>{esc(device.name)}</td>"
                    f"<td>{esc(_memory_text(device))}</td>"
                    f"<td>{_opt(device.utilization_gpu, '{}%')}</td>"
                    f"<td>{f'{cc[0]}.{cc[1]}' if cc else '—'}</td>"
                    f"<td>{_opt(device.temperature_c, '{} °C')}</td>"
                    f"<td>{_opt(device.power_w, '{:.0f} W')}</td></tr>"
                )
                for mig in device.mig_devices:
                    parts.append(
                        f"<tr><td>&nbsp;&nbsp;{esc(mig.label)}</td><td>{esc(mig.name)}</td>"
                        f"<td>{esc(_memory_text(mig))}</td><td colspan='4'></td></tr>"
                    )
            parts.append("</tbody></table>")
        unit_notes = [(d.label, note) for d in self.devices for note in d.notes] + [
            (m.label, note) for d in self.devices for m in d.mig_devices for note in m.notes
        ]
        parts.extend(f"<br><small>{esc(label)}: {esc(note)}</small>" for label, note in unit_notes)
        parts.extend(f"<br><small>note: {esc(note)}</small>" for note in self.notes)
        parts.append("</div>")
        return "".join(parts)


_INTEGER_COLUMNS = frozenset(
    {
        "index",
        "parent_index",
        "cuda_index",
        "memory_total",
        "memory_used",
        "memory_free",
        "utilization_gpu",
        "utilization_memory",
        "temperature_c",
        "gpu_instance_id",
        "compute_instance_id",
    }
)


def utc_text(timestamp: float) -> str:
    """``time.time()`` as ISO 8601 UTC to the millisecond: ``2026-11-26T18:01:46.123Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gb(n_bytes: int | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 1e9:.1f} GB"


def best_of(units: list[GpuDevice | MigDevice]) -> GpuDevice | MigDevice:
    """The unit with the most free memory; the first one wins a tie."""
    # Known free memory beats unknown; among unknowns the largest total is the best guess.
    return max(units, key=lambda u: (u.memory_free is not None, _free_or_total(u)))


def _free_or_total(unit: GpuDevice | MigDevice) -> int:
    value = unit.memory_free if unit.memory_free is not None else unit.memory_total
    return value or 0


def _memory_text(unit: GpuDevice | MigDevice) -> str:
    if not unit.valid:
        return f"invalid ({unit.error})"
    if unit.memory_free is None and unit.memory_total is None:
        return "memory unknown"
    return f"{gb(unit.memory_free)} free of {gb(unit.memory_total)}"


def _device_summary(device: GpuDevice) -> str:
    if not device.valid:
        return f"invalid ({device.error})"
    bits = [_memory_text(device)]
    if device.utilization_gpu is not None:
        bits.append(f"util {device.utilization_gpu}%")
    if device.compute_capability:
        bits.append("cc {}.{}".format(*device.compute_capability))
    if device.temperature_c is not None:
        bits.append(f"{device.temperature_c} °C")
    if device.power_w is not None:
        limit = f"/{device.power_limit_w:.0f}" if device.power_limit_w is not None else ""
        bits.append(f"{device.power_w:.0f}{limit} W")
    if device.mig_mode:
        bits.append(f"MIG on, {len(device.mig_devices)} instance(s)")
    return "  ".join(bits)


def _versions(report: GpuReport) -> str:
    bits = []
    if report.driver_version:
        bits.append(f"driver {report.driver_version}")
    if report.cuda_driver_version:
        bits.append(f"CUDA {report.cuda_driver_version}")
    return ", ".join(bits)


def _opt(value: float | None, template: str) -> str:
    return "—" if value is None else template.format(value)
