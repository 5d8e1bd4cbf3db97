"""Which GPUs a CUDA program started in this kernel would see.

Pure functions over an inventory of what NVML enumerates; no NVML calls here, so every rule
is unit-testable without a GPU.

``CUDA_VISIBLE_DEVICES`` (read by the CUDA driver when it initialises):

* unset: every device NVML enumerates is visible.
* ``""`` (set but empty): no device is visible.
* otherwise a comma-separated list read left to right. Whitespace around an entry is
  ignored. Each entry is one of

  - an index, ``"0"``: the position in NVML's enumeration (PCI bus order). CUDA numbers
    devices fastest-first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; the two orders agree when
    that variable is set or all GPUs are the same model, and a note says so otherwise.
  - a GPU UUID, ``"GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"``, or any prefix of one that
    matches exactly one GPU (``"GPU-8932"``), compared case-insensitively.
  - a MIG UUID, ``"MIG-<uuid>"`` (R470+ drivers) or ``"MIG-GPU-<gpu uuid>/<gi>/<ci>"``
    (R450/R460 form): that one MIG instance, not the rest of its GPU.

  The first entry that is not valid ends the list, as in CUDA: only the entries before it
  count. Invalid means not a number or UUID, a negative or out-of-range index, a UUID
  matching no device or more than one, or a device already listed. So ``"-1"``, ``"none"``
  and ``"void"`` hide every device, and ``"1,foo,0"`` keeps only GPU 1.

``NVIDIA_VISIBLE_DEVICES`` (read by the NVIDIA container runtime when a container starts,
never by CUDA itself):

* unset or ``"all"``: no restriction.
* ``"none"``, ``"void"`` or ``""``: no device is visible (the runtime gave this container no
  GPU).
* a list: the runtime has already mounted only those GPUs and NVML inside the container
  numbers them from 0, so index entries are not applied again. UUID entries (GPU or MIG) are
  applied as a final filter after ``CUDA_VISIBLE_DEVICES``: inside such a container that
  changes nothing, and outside one it keeps the advice to the GPUs the deployment assigned
  to this kernel (JupyterHub spawners and the Kubernetes device plugin set it per user).

A visible GPU in MIG mode is used through its MIG instances, never as a whole. CUDA
enumerates only one MIG device per process (NVIDIA MIG User Guide, "CUDA Device
Enumeration"): when several instances are visible the report lists them all, but only the
first in list order gets a CUDA index and counts for ``best_device()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

CUDA_VAR = "CUDA_VISIBLE_DEVICES"
NVIDIA_VAR = "NVIDIA_VISIBLE_DEVICES"
_NO_DEVICE_VALUES = frozenset({"none", "void", ""})
_LEGACY_MIG = re.compile(r"^mig-(gpu-[0-9a-f-]+)/(\d+)/(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class MigSlot:
    """A MIG instance as the inventory knows it: enough to match a visibility entry."""

    index: int
    uuid: str | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None


@dataclass(frozen=True)
class GpuSlot:
    """A physical GPU as NVML enumerates it; ``mig`` is None when MIG mode is off."""

    index: int
    uuid: str | None = None
    name: str | None = None
    mig: tuple[MigSlot, ...] | None = None


# (NVML GPU index, MIG slot index or None for the whole GPU)
Unit = tuple[int, int | None]


@dataclass(frozen=True)
class Selection:
    """The CUDA devices this kernel would see, in CUDA order, and why others are hidden."""

    units: tuple[Unit, ...]
    notes: tuple[str, ...] = field(default=())

    def gpu_indices(self) -> list[int]:
        """NVML indices of the GPUs with at least one visible unit, in first-seen order."""
        return list(dict.fromkeys(gpu for gpu, _ in self.units))

    def mig_indices(self, gpu: int) -> list[int]:
        return [mig for g, mig in self.units if g == gpu and mig is not None]


def select(inventory: Sequence[GpuSlot], environ: Mapping[str, str]) -> Selection:
    """Apply both visibility variables from ``environ`` to ``inventory``."""
    notes: list[str] = []
    cuda_value = environ.get(CUDA_VAR)
    if cuda_value is None:
        units = [unit for gpu in inventory for unit in _units_of(gpu)]
    else:
        units = _parse_cuda(cuda_value, inventory, notes)
        if _uses_indices(cuda_value) and _mixed_models(inventory):
            order = environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
            if order.strip().upper() != "PCI_BUS_ID":
                notes.append(
                    f"{CUDA_VAR} uses indices and the GPUs are different models: CUDA numbers "
                    "them fastest first, NVML by PCI bus; set CUDA_DEVICE_ORDER=PCI_BUS_ID "
                    "so both agree"
                )
    nvidia_value = environ.get(NVIDIA_VAR)
    if nvidia_value is not None:
        units = _apply_nvidia(nvidia_value, inventory, units, notes)
    return Selection(units=tuple(units), notes=tuple(notes))


def _units_of(gpu: GpuSlot) -> list[Unit]:
    # A MIG-mode GPU without instances still shows up, so the report can say why it is unusable.
    if not gpu.mig:
        return [(gpu.index, None)]
    return [(gpu.index, slot.index) for slot in gpu.mig]


def _parse_cuda(value: str, inventory: Sequence[GpuSlot], notes: list[str]) -> list[Unit]:
    if value.strip() == "":
        notes.append(f"{CUDA_VAR} is set to an empty string, which hides every GPU")
        return []
    units: list[Unit] = []
    for position, raw in enumerate(value.split(",")):
        entry = raw.strip()
        found = _resolve_entry(entry, inventory)
        if found is None:
            problem = f"{entry!r} matches no GPU"
        elif any(unit in units for unit in found):
            problem = f"{entry!r} repeats a device already listed"
        else:
            units.extend(found)
            continue
        kept = "no GPU" if position == 0 else "only the devices listed before it"
        notes.append(f"{CUDA_VAR}={value!r}: {problem}, so CUDA sees {kept}")
        break
    return units


def _resolve_entry(entry: str, inventory: Sequence[GpuSlot]) -> list[Unit] | None:
    """The units one ``CUDA_VISIBLE_DEVICES`` entry names, or None when it is invalid."""
    if entry.isdigit() and entry.isascii():
        index = int(entry)
        gpu = next((g for g in inventory if g.index == index), None)
        return _units_of(gpu) if gpu is not None else None
    lowered = entry.lower()
    legacy = _LEGACY_MIG.match(entry)
    if legacy:
        gpu_uuid, gi, ci = legacy.group(1).lower(), int(legacy.group(2)), int(legacy.group(3))
        matches: list[Unit] = [
            (gpu.index, slot.index)
            for gpu in inventory
            if gpu.uuid is not None and gpu.uuid.lower() == gpu_uuid
            for slot in gpu.mig or ()
            if (slot.gpu_instance_id, slot.compute_instance_id) == (gi, ci)
        ]
        return matches if len(matches) == 1 else None
    if lowered.startswith("gpu-"):
        gpus = [g for g in inventory if g.uuid is not None and g.uuid.lower().startswith(lowered)]
        return _units_of(gpus[0]) if len(gpus) == 1 else None
    if lowered.startswith("mig-"):
        migs: list[Unit] = [
            (gpu.index, slot.index)
            for gpu in inventory
            for slot in gpu.mig or ()
            if slot.uuid is not None and slot.uuid.lower().startswith(lowered)
        ]
        return migs if len(migs) == 1 else None
    return None


def _apply_nvidia(
    value: str, inventory: Sequence[GpuSlot], units: list[Unit], notes: list[str]
) -> list[Unit]:
    cleaned = value.strip().lower()
    if cleaned == "all":
        return units
    if cleaned in _NO_DEVICE_VALUES:
        if units:
            notes.append(f"{NVIDIA_VAR}={value!r}: the container runtime gave this kernel no GPU")
        return []
    uuids = [e.strip().lower() for e in value.split(",") if e.strip().lower()[:4] in _UUID_HEADS]
    if not uuids:
        return units  # index lists were applied by the container runtime already
    allowed: set[Unit] = set()
    for entry in uuids:
        allowed.update(_resolve_entry(entry, inventory) or ())
    kept = [unit for unit in units if unit in allowed]
    if len(kept) < len(units):
        notes.append(f"{NVIDIA_VAR}={value!r} hides {len(units) - len(kept)} device(s)")
    return kept


_UUID_HEADS = frozenset({"gpu-", "mig-"})


def _uses_indices(value: str) -> bool:
    return any(e.strip().isdigit() for e in value.split(","))


def _mixed_models(inventory: Sequence[GpuSlot]) -> bool:
    return len({g.name for g in inventory if g.name is not None}) > 1
