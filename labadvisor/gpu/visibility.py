"""Which GPUs a CUDA program started in this kernel would see.

Pure functions over an inventory of what NVML enumerates; no NVML calls here, so every rule
is unit-testable without a GPU.

``CUDA_VISIBLE_DEVICES`` (read by the CUDA driver when it initialises). Each rule below
names the behaviour it mirrors: "measured" means the CUDA driver itself (cuInit and
cuDeviceGetCount, driver 580.159.04 on an H100, docs/gpu-verification.md, 2026-11-26; PyTorch's
device count agreed in every case); "PyTorch" means ``torch.cuda._parse_visible_devices`` and
``_transform_uuid_to_ordinals``, which replicate the driver for ``torch.cuda.device_count()``;
"nvitop" means ``nvitop.api.device._parse_cuda_visible_devices``, which does the same.

* unset: every device NVML enumerates is visible.
* ``""`` (set but empty): no device (measured).
* otherwise a comma-separated list, read left to right. Whitespace around an entry is
  ignored (``" 0"`` is GPU 0: measured; nvitop). The first entry decides what kind of list
  it is, and entries of the other kind end it (PyTorch, nvitop):

  - **A list of ordinals** (the first entry does not start with ``GPU-`` or ``MIG-``). Each
    entry is read as C's ``strtoul`` reads it: an optional sign, then the leading decimal
    digits, the rest ignored; so ``"0x1"``, ``"0gpu"``, ``"00"`` and ``"+0"`` all mean GPU 0
    (measured) and ``"1gpu2,2ampere"`` means GPUs 1 and 2 (PyTorch). An entry with no
    leading digits (``"none"``, ``"foo"``, a UUID) or a negative value (``"-1"``) ends the
    list: only the entries before it count (``"0,-1,1"`` is GPU 0: measured). An ordinal
    repeated before the end of the list leaves **no device at all** (``"0,0"`` and
    ``"0,0,1"``: measured, CUDA_ERROR_INVALID_DEVICE; PyTorch; nvitop). Then, entry by
    entry, an ordinal beyond the last GPU ends the list (``"1,0"`` on one GPU is no device:
    measured). An ordinal is the position in NVML's enumeration (PCI bus order); CUDA
    numbers devices fastest-first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, the two orders
    agree when that variable is set or all GPUs are the same model, and a note says so
    otherwise.
  - **A list of UUIDs** (the first entry starts with ``GPU-``, or with ``MIG-``): a GPU UUID
    ``"GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"`` or any prefix of one (``"GPU-8932"``:
    measured), a MIG UUID ``"MIG-<uuid>"`` (R470+ drivers) or ``"MIG-GPU-<gpu
    uuid>/<gi>/<ci>"`` (R450/R460 form), naming that one MIG instance. The list ends at the
    first entry without the first entry's prefix (``"<uuid>,0"`` and ``"<uuid>,foo,0"`` are
    that GPU: measured; PyTorch). The same entry twice leaves no device at all (measured;
    PyTorch; nvitop). Then, entry by entry, one that matches no device, or more than one,
    ends the list, and two entries naming the same device leave no device at all
    (PyTorch). labadvisor compares UUIDs case-insensitively (not measured: NVML prints
    them as ``GPU-`` and lower-case hex, which is what the driver was checked with).

  A GPU named by an ordinal and then by its UUID is not a repeat: the UUID ends the ordinal
  list first (``"0,<uuid of GPU 0>"`` is GPU 0: measured).

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
        if units and _list_kind(cuda_value) is None and _mixed_models(inventory):
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


def read_ordinal(entry: str) -> int | None:
    """``entry`` read as ``strtoul`` reads it: an optional sign, then the leading decimal
    digits; None when there are no digits. ``"0x1"`` -> 0, ``"+0"`` -> 0, ``"-1"`` -> -1."""
    match = _ORDINAL.match(entry)
    return int(match.group(0)) if match else None


_ORDINAL = re.compile(r"[+-]?[0-9]+")  # ASCII digits only, as C's strtoul


def _list_kind(value: str) -> str | None:
    """``"gpu-"`` or ``"mig-"`` for a list of UUIDs, None for a list of ordinals; the first
    entry decides."""
    head = value.split(",", 1)[0].strip().lower()
    return next((kind for kind in _UUID_HEADS if head.startswith(kind)), None)


def _parse_cuda(value: str, inventory: Sequence[GpuSlot], notes: list[str]) -> list[Unit]:
    if value.strip() == "":
        notes.append(f"{CUDA_VAR} is set to an empty string, which hides every GPU")
        return []
    kind = _list_kind(value)
    entries = [raw.strip() for raw in value.split(",")]
    problem: str | None
    if kind is None:
        units, problem, position = _ordinal_list(entries, inventory)
    else:
        units, problem, position = _uuid_list(entries, kind, inventory)
    if problem is not None:
        if position is None:
            kept = "no GPU at all, whatever the other entries say"
        elif position == 0:
            kept = "no GPU"
        else:
            kept = "only the devices listed before it"
        notes.append(f"{CUDA_VAR}={value!r}: {problem}, so CUDA sees {kept}")
    if kind is None and units:
        used = entries if position is None else entries[:position]
        readings = [f"{e!r} as {read_ordinal(e)}" for e in used if not e.isdigit()]
        if readings:
            notes.append(
                f"{CUDA_VAR}={value!r}: CUDA reads an entry by its leading digits: "
                + ", ".join(readings)
            )
    return units


# (units, why the list was cut or emptied, position of the entry that ended it or None
# when a repeat emptied the whole list)
_Parsed = tuple[list[Unit], str | None, int | None]


def _ordinal_list(entries: list[str], inventory: Sequence[GpuSlot]) -> _Parsed:
    # First pass, as the driver and PyTorch read the text: digits, repeats, a negative end.
    ordinals: list[int] = []
    problem: str | None = None
    end: int | None = None
    for position, entry in enumerate(entries):
        ordinal = read_ordinal(entry)
        if ordinal is not None and ordinal in ordinals:
            return [], f"{entry!r} repeats GPU {ordinal}", None
        if ordinal is None:
            problem, end = f"{entry!r} matches no GPU (it does not start with a number)", position
            break
        if ordinal < 0:
            problem, end = f"{entry!r} is negative, which ends the list", position
            break
        ordinals.append(ordinal)
    # Second pass, against the GPUs there are: one beyond the last ends the list.
    by_index = {gpu.index: gpu for gpu in inventory}
    units: list[Unit] = []
    for position, ordinal in enumerate(ordinals):
        gpu = by_index.get(ordinal)
        if gpu is None:
            entry = entries[position]
            read = "" if entry.isdigit() else f" (read as {ordinal})"
            return units, f"{entry!r}{read} matches no GPU", position
        units.extend(_units_of(gpu))
    return units, problem, end


def _uuid_list(entries: list[str], kind: str, inventory: Sequence[GpuSlot]) -> _Parsed:
    listed: list[str] = []
    problem: str | None = None
    end: int | None = None
    for position, entry in enumerate(entries):
        lowered = entry.lower()
        if lowered in listed:
            return [], f"{entry!r} is listed twice", None
        if not lowered.startswith(kind):
            what = "GPU" if kind == "gpu-" else "MIG"
            problem = f"{entry!r} matches no GPU ({what} UUIDs listed first, so it ends the list)"
            end = position
            break
        listed.append(lowered)
    units: list[Unit] = []
    for position, entry in enumerate(entries[: len(listed)]):
        found = _resolve_uuid(entry, inventory)
        if found is None:
            return units, f"{entry!r} matches no GPU", position
        if any(unit in units for unit in found):
            return [], f"{entry!r} names a device already listed", None
        units.extend(found)
    return units, problem, end


def _resolve_uuid(entry: str, inventory: Sequence[GpuSlot]) -> list[Unit] | None:
    """The units a GPU or MIG UUID (or a prefix matching one device) names; None when it
    matches none or more than one."""
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
        allowed.update(_resolve_uuid(entry, inventory) or ())
    kept = [unit for unit in units if unit in allowed]
    if len(kept) < len(units):
        notes.append(f"{NVIDIA_VAR}={value!r} hides {len(units) - len(kept)} device(s)")
    return kept


_UUID_HEADS = frozenset({"gpu-", "mig-"})


def _mixed_models(inventory: Sequence[GpuSlot]) -> bool:
    return len({g.name for g in inventory if g.name is not None}) > 1
