"""The one module that talks to NVML: a once-per-process session and the probe that turns
NVML's answers into :mod:`labadvisor.gpu.report` dataclasses.

``pynvml`` (package nvidia-ml-py) is imported on first use only. Tests and the benchmark
talk to a pynvml stand-in instead (tests/fake_nvml.py), installed through the private seam
``_backend`` by :func:`labadvisor.gpu.detection._use_backend`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from labadvisor.gpu.report import GpuDevice, GpuReport, MigDevice, Status, best_of, gb
from labadvisor.gpu.sanity import CheckedMemory, check_memory
from labadvisor.gpu.visibility import CUDA_VAR, NVIDIA_VAR, GpuSlot, MigSlot, Unit, select

# pynvml ships no type information, and its functions are looked up by name (newest first)
# so that one missing from an older nvidia-ml-py or driver can be told apart: both the
# library and its handles (opaque ctypes pointers) are typed as what they are, unknown.
Library = Any
Handle = Any
_MIG_ENABLED = 1  # NVML_DEVICE_MIG_ENABLE; a literal so no pynvml import is needed to read it
_TEMPERATURE_GPU = 0  # NVML_TEMPERATURE_GPU

_lock = threading.RLock()
# A pynvml stand-in used instead of pynvml; None in normal use. A test seam, set only by
# detection._use_backend, which also drops what was learnt through the previous library.
_backend: Library | None = None
_active: Library | None = None  # the library object nvmlInit succeeded on, until shutdown
_atexit_registered = False


class NvmlUnavailable(Exception):
    """NVML cannot be used here; ``status`` is the report status that says why."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status: Status = status
        self.message = message


class _Never(Exception):
    """Stands in for an error class a pynvml-like library does not define."""


@dataclass(frozen=True)
class Errors:
    """The library's exception classes, looked up once so except clauses cannot fail."""

    base: type[BaseException]
    mismatch: type[BaseException]
    function_not_found: type[BaseException]
    not_found: type[BaseException]
    lost: tuple[type[BaseException], ...]

    @classmethod
    def of(cls, lib: Library) -> Errors:
        def cls_named(name: str) -> type[BaseException]:
            found = getattr(lib, name, None)
            return found if isinstance(found, type) else _Never

        return cls(
            base=cls_named("NVMLError"),
            mismatch=cls_named("NVMLLibraryMismatchError"),
            function_not_found=cls_named("NVMLError_FunctionNotFound"),
            not_found=cls_named("NVMLError_NotFound"),
            lost=(cls_named("NVMLError_GpuIsLost"), cls_named("NVMLError_ResetRequired")),
        )


class DeviceLost(Exception):
    """A device stopped answering (GPU is lost / needs a reset) in the middle of a probe."""


@dataclass
class Query:
    """Runs optional NVML calls, each guarded on its own: a failure leaves that one field
    None and records why in ``unavailable``; only a lost GPU stops the device's queries."""

    lib: Library
    errors: Errors
    unavailable: dict[str, str] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()  # asked before and failed: not asked again

    def get(
        self,
        what: str,
        *names: str,
        args: tuple[Any, ...] = (),
        empty: tuple[type[BaseException], ...] = (),
        default: Any = None,
    ) -> Any:
        """Call the first of ``names`` the library and driver have (newest name first).

        ``empty``: errors that mean "nothing to report" rather than "cannot tell" (NVML's
        NotFound for a sample buffer with no samples); they return ``default`` and record
        nothing."""
        if what in self.skip:
            return None
        reason = "not provided"
        for name in names:
            try:
                return getattr(self.lib, name)(*args)
            except empty:
                return default
            except AttributeError:
                reason = f"{name} is not in this nvidia-ml-py"
            except self.errors.function_not_found:
                reason = f"{name} is not in this driver's NVML"
            except self.errors.mismatch as exc:
                reason = f"nvidia-ml-py and driver do not match: {exc}"
            except self.errors.lost as exc:
                raise DeviceLost(str(exc) or "GPU is lost") from None
            except self.errors.base as exc:
                reason = str(exc)  # NotSupported, NoPermission, ...: no fallback will do better
                break
            except (OSError, ValueError, UnicodeError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                break
        self.unavailable[what] = reason
        return None


def library() -> Library:
    if _backend is not None:
        return _backend
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable(
            "library-not-found",
            "the nvidia-ml-py package (module pynvml) is not installed: pip install nvidia-ml-py",
        ) from None
    return pynvml


def session() -> Library:
    """The initialised library; NVML is initialised once per process and shut down at exit."""
    global _active, _atexit_registered
    if _active is not None:
        return _active
    with _lock:
        if _active is not None:
            return _active
        lib = library()
        try:
            lib.nvmlInit()
        except Exception as exc:
            raise NvmlUnavailable(*classify_init_error(lib, exc)) from None
        _active = lib
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        return lib


def shutdown() -> None:
    """Release NVML (registered with atexit; harmless when NVML was never initialised)."""
    global _active
    with _lock:
        lib, _active = _active, None
        if lib is None:
            return
        with contextlib.suppress(Exception):  # at exit nothing useful can be done about it
            lib.nvmlShutdown()


def classify_init_error(lib: Library, exc: BaseException) -> tuple[Status, str]:
    def is_a(name: str) -> bool:
        found = getattr(lib, name, None)
        return isinstance(found, type) and isinstance(exc, found)

    if is_a("NVMLError_LibraryNotFound"):
        return (
            "library-not-found",
            "NVIDIA's NVML library (libnvidia-ml.so.1 / nvml.dll) was not found: no NVIDIA "
            "driver is installed here, or it is not mounted into this container",
        )
    if is_a("NVMLError_DriverNotLoaded"):
        return (
            "driver-not-loaded",
            "the NVIDIA driver is installed but not loaded: no NVIDIA GPU is present, or the "
            "kernel module failed to load (check dmesg)",
        )
    if is_a("NVMLError_LibRmVersionMismatch") or is_a("NVMLLibraryMismatchError"):
        return (
            "error",
            f"NVML and the loaded NVIDIA kernel driver are different versions ({exc}); this "
            "usually follows a driver upgrade without a reboot",
        )
    if is_a("NVMLError_NoPermission"):
        return "error", f"no permission to open the NVIDIA devices ({exc})"
    return "error", f"NVML failed to initialise: {type(exc).__name__}: {exc}"


@dataclass
class _Probed:
    """One GPU between the inventory pass and the detail pass."""

    slot: GpuSlot
    handle: Handle | None
    query: Query
    mig_handles: dict[int, Handle] = field(default_factory=dict)
    mig_queries: dict[int, Query] = field(default_factory=dict)
    mig_mode: bool | None = None
    error: str | None = None


def probe(
    lib: Library, environ: Mapping[str, str] | None = None
) -> tuple[GpuReport, dict[Unit, Handle]]:
    """Ask ``lib`` (initialised by :func:`session`) about every GPU, keep the visible ones,
    and say what each can do.

    Returns the report and the NVML handle of every visible unit, for later queries of the
    same units (the sampler's). Raises NvmlUnavailable when NVML itself cannot be used;
    anything about one device is recorded on that device instead.
    """
    env = os.environ if environ is None else environ
    visibility = {CUDA_VAR: env.get(CUDA_VAR), NVIDIA_VAR: env.get(NVIDIA_VAR)}
    errors = Errors.of(lib)
    top = Query(lib, errors)
    driver = _text(top.get("driver_version", "nvmlSystemGetDriverVersion"))
    cuda = top.get(
        "cuda_driver_version",
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlSystemGetCudaDriverVersion",
    )
    cuda_text = f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None
    try:
        count = int(lib.nvmlDeviceGetCount())
    except Exception as exc:
        raise NvmlUnavailable("error", f"NVML could not count the GPUs: {exc}") from None
    probed = [_inventory(lib, errors, index) for index in range(count)]
    selection = select([p.slot for p in probed], env)
    visible = selection.gpu_indices()
    cuda_index, notes = _cuda_numbering(selection.units, probed, selection.notes)
    handles: dict[Unit, Handle] = {}
    devices: list[GpuDevice] = []
    for gpu_index in visible:
        item = probed[gpu_index]
        device = _describe(item, selection.mig_indices(gpu_index), cuda_index)
        devices.append(device)
        if device.valid and item.handle is not None:
            handles[(gpu_index, None)] = item.handle
            for mig in device.mig_devices:
                if mig.valid:
                    handles[(gpu_index, mig.index)] = item.mig_handles[mig.index]
    report = _assemble(
        devices,
        hidden=count - len(visible),
        total=count,
        notes=notes,
        driver=driver,
        cuda=cuda_text,
        visibility=visibility,
    )
    return report, handles


def _cuda_numbering(
    units: tuple[Unit, ...], probed: list[_Probed], notes: tuple[str, ...]
) -> tuple[dict[Unit, int], tuple[str, ...]]:
    """The CUDA index of each visible unit, in list order. A MIG-mode GPU is not a CUDA
    device itself, and CUDA enumerates only one MIG device per process (NVIDIA MIG User
    Guide, "CUDA Device Enumeration", CUDA 11/R450 and CUDA 12/R525): the first one."""
    numbered: dict[Unit, int] = {}
    skipped: list[Unit] = []
    first_mig: Unit | None = None
    for unit in units:
        gpu, mig = unit
        if mig is None and probed[gpu].mig_mode:
            continue
        if mig is not None:
            if first_mig is not None:
                skipped.append(unit)
                continue
            first_mig = unit
        numbered[unit] = len(numbered)
    if skipped and first_mig is not None:
        notes = (
            *notes,
            f"CUDA uses one MIG device per process, so this kernel gets GPU {first_mig[0]} MIG "
            f"{first_mig[1]} and not the {len(skipped)} other visible MIG instance(s); set "
            "CUDA_VISIBLE_DEVICES to a MIG UUID to choose another",
        )
    return numbered, notes


def _inventory(lib: Library, errors: Errors, index: int) -> _Probed:
    query = Query(lib, errors)
    try:
        handle = lib.nvmlDeviceGetHandleByIndex(index)
    except Exception as exc:  # lost, no permission, ...: the device exists but is unusable
        return _Probed(GpuSlot(index), None, query, error=str(exc) or type(exc).__name__)
    item = _Probed(GpuSlot(index), handle, query)
    try:
        uuid = _text(query.get("uuid", "nvmlDeviceGetUUID", args=(handle,)))
        name = _text(query.get("name", "nvmlDeviceGetName", args=(handle,)))
        mode = query.get("mig_mode", "nvmlDeviceGetMigMode", args=(handle,))
        item.mig_mode = None if mode is None else int(mode[0]) == _MIG_ENABLED
        slots: tuple[MigSlot, ...] | None = None
        if item.mig_mode:
            slots = tuple(_mig_inventory(lib, errors, item))
        item.slot = GpuSlot(index, uuid, name, slots)
    except DeviceLost as exc:
        item.error = str(exc)
    return item


def _mig_inventory(lib: Library, errors: Errors, item: _Probed) -> list[MigSlot]:
    count = item.query.get("mig_devices", "nvmlDeviceGetMaxMigDeviceCount", args=(item.handle,))
    slots = []
    for slot in range(int(count or 0)):
        try:
            handle = lib.nvmlDeviceGetMigDeviceHandleByIndex(item.handle, slot)
        except errors.not_found:
            continue  # an empty slot: fewer instances than the GPU could hold
        except errors.lost as exc:
            raise DeviceLost(str(exc)) from None
        except Exception as exc:
            item.query.unavailable[f"mig_devices[{slot}]"] = str(exc) or type(exc).__name__
            continue
        query = Query(lib, errors)
        item.mig_handles[slot] = handle
        item.mig_queries[slot] = query
        slots.append(
            MigSlot(
                slot,
                _text(query.get("uuid", "nvmlDeviceGetUUID", args=(handle,))),
                query.get("gpu_instance_id", "nvmlDeviceGetGpuInstanceId", args=(handle,)),
                query.get("compute_instance_id", "nvmlDeviceGetComputeInstanceId", args=(handle,)),
            )
        )
    return slots


def _describe(item: _Probed, mig_visible: list[int], cuda_index: dict[Unit, int]) -> GpuDevice:
    """The full record of one visible GPU and its visible MIG instances."""
    slot, query = item.slot, item.query
    known = GpuDevice(
        index=slot.index,
        name=slot.name or f"NVIDIA GPU {slot.index}",
        uuid=slot.uuid,
        mig_mode=item.mig_mode,
        cuda_index=cuda_index.get((slot.index, None)),
        unavailable=query.unavailable,
    )
    if item.error is not None or item.handle is None:
        return replace(known, valid=False, error=item.error or "no handle")
    handle = item.handle
    try:
        readings = _gpu_readings(query, handle)
        cc = query.get("compute_capability", "nvmlDeviceGetCudaComputeCapability", args=(handle,))
        limit = query.get("power_limit_w", "nvmlDeviceGetEnforcedPowerLimit", args=(handle,))
    except DeviceLost as exc:
        return replace(known, valid=False, error=str(exc))
    migs = [_describe_mig(item, mig, cuda_index.get((slot.index, mig))) for mig in mig_visible]
    return replace(
        known,
        **readings,
        compute_capability=(int(cc[0]), int(cc[1])) if cc is not None else None,
        power_limit_w=limit / 1000 if limit is not None else None,  # NVML reports milliwatts
        mig_devices=tuple(migs),
    )


def _describe_mig(item: _Probed, mig_index: int, cuda_index: int | None) -> MigDevice:
    query = item.mig_queries[mig_index]
    slot = next(s for s in item.slot.mig or () if s.index == mig_index)
    handle = item.mig_handles[mig_index]
    known = MigDevice(
        index=mig_index,
        parent_index=item.slot.index,
        name=f"{item.slot.name} MIG {mig_index}",
        uuid=slot.uuid,
        gpu_instance_id=slot.gpu_instance_id,
        compute_instance_id=slot.compute_instance_id,
        cuda_index=cuda_index,
        cuda_visible=cuda_index is not None,
        unavailable=query.unavailable,
    )
    try:
        name = _text(query.get("name", "nvmlDeviceGetName", args=(handle,)))
        readings = _mig_readings(query, handle)
    except DeviceLost as exc:
        return replace(known, name=f"MIG {mig_index}", valid=False, error=str(exc))
    return replace(known, name=name or known.name, **readings)


# --- readings: what changes from moment to moment ----------------------------------------
# The names Query records failures under; a reading that failed once is not asked again
# until the next probe (a MIG-mode GPU has no utilization, an older one no power reading).
_READINGS = frozenset({"memory", "utilization", "temperature_c", "power_w"})
_NO_GPU_READINGS: dict[str, Any] = {
    "memory_total": None,
    "memory_used": None,
    "memory_free": None,
    "utilization_gpu": None,
    "utilization_memory": None,
    "temperature_c": None,
    "power_w": None,
    "notes": (),
}


def _gpu_readings(query: Query, handle: Handle) -> dict[str, Any]:
    """The GpuDevice fields that change from moment to moment. Raises DeviceLost."""
    memory = _memory(query, handle)
    util = query.get("utilization", "nvmlDeviceGetUtilizationRates", args=(handle,))
    temperature = query.get(
        "temperature_c",
        "nvmlDeviceGetTemperatureV",
        "nvmlDeviceGetTemperature",
        args=(handle, _TEMPERATURE_GPU),
    )
    power = query.get("power_w", "nvmlDeviceGetPowerUsage", args=(handle,))
    return {
        "memory_total": memory.total,
        "memory_used": memory.used,
        "memory_free": memory.free,
        "utilization_gpu": _int_attr(util, "gpu"),
        "utilization_memory": _int_attr(util, "memory"),
        "temperature_c": int(temperature) if temperature is not None else None,
        "power_w": power / 1000 if power is not None else None,  # NVML reports milliwatts
        "notes": _memory_notes(memory),
    }


def _mig_readings(query: Query, handle: Handle) -> dict[str, Any]:
    memory = _memory(query, handle)
    return {
        "memory_total": memory.total,
        "memory_used": memory.used,
        "memory_free": memory.free,
        "notes": _memory_notes(memory),
    }


def read_again(lib: Library, report: GpuReport, handles: Mapping[Unit, Handle]) -> GpuReport:
    """``report`` with its readings (memory, utilization, temperature, power) taken again
    through the handles its probe got: a few NVML calls per device, no enumeration. What
    the probe learnt about the devices (names, UUIDs, visibility, MIG layout) stays."""
    errors = Errors.of(lib)
    devices = [_read_device(lib, errors, device, handles) for device in report.devices]
    return _assemble(
        devices,
        hidden=report.hidden_count,
        total=report.hidden_count + len(devices),
        notes=report.notes,
        driver=report.driver_version,
        cuda=report.cuda_driver_version,
        visibility=dict(report.visibility),
        checked_at=report.checked_at,
    )


def _again(lib: Library, errors: Errors, unavailable: Mapping[str, str]) -> Query:
    """A Query for a second reading: what failed before is skipped and its reason kept; the
    memory check is made afresh."""
    skip = _READINGS & unavailable.keys()
    kept = {k: v for k, v in unavailable.items() if k in skip or k not in _READINGS}
    kept.pop("memory_free", None)
    return Query(lib, errors, kept, frozenset(skip))


def _read_device(
    lib: Library, errors: Errors, device: GpuDevice, handles: Mapping[Unit, Handle]
) -> GpuDevice:
    handle = handles.get((device.index, None))
    if not device.valid or handle is None:
        return device
    query = _again(lib, errors, device.unavailable)
    try:
        readings = _gpu_readings(query, handle)
    except DeviceLost as exc:
        return replace(device, **_NO_GPU_READINGS, valid=False, error=str(exc), mig_devices=())
    migs = tuple(_read_mig(lib, errors, mig, handles) for mig in device.mig_devices)
    return replace(device, **readings, mig_devices=migs, unavailable=query.unavailable)


def _read_mig(
    lib: Library, errors: Errors, mig: MigDevice, handles: Mapping[Unit, Handle]
) -> MigDevice:
    handle = handles.get((mig.parent_index, mig.index))
    if not mig.valid or handle is None:
        return mig
    query = _again(lib, errors, mig.unavailable)
    try:
        readings = _mig_readings(query, handle)
    except DeviceLost as exc:
        return replace(
            mig,
            memory_total=None,
            memory_used=None,
            memory_free=None,
            notes=(),
            valid=False,
            error=str(exc),
        )
    return replace(mig, **readings, unavailable=query.unavailable)


def _memory(query: Query, handle: Handle) -> CheckedMemory:
    """Memory as NVML reports it, checked: figures that cannot all be true make free memory
    unknown, with the reason under ``unavailable["memory_free"]``."""
    info = query.get("memory", "nvmlDeviceGetMemoryInfo", args=(handle,))
    memory = check_memory(
        _int_attr(info, "total"), _int_attr(info, "used"), _int_attr(info, "free")
    )
    if memory.problem is not None:
        query.unavailable["memory_free"] = memory.problem
    return memory


def _memory_notes(memory: CheckedMemory) -> tuple[str, ...]:
    return () if memory.problem is None else (memory.problem,)


def _assemble(
    devices: list[GpuDevice],
    *,
    hidden: int,
    total: int,
    notes: tuple[str, ...],
    driver: str | None,
    cuda: str | None,
    visibility: dict[str, str | None],
    checked_at: float | None = None,
) -> GpuReport:
    """The report over ``devices``; its readings were taken now, its inventory at
    ``checked_at`` (now, for a probe)."""
    status: Status
    now = time.time()
    units = [unit for device in devices for unit in device.units()]
    if total == 0:
        status, message = "no-devices", "NVML works but finds no NVIDIA GPU on this machine"
    elif not devices:
        status = "no-devices"
        message = f"{_count(total)} present but none is visible to this kernel"
        if notes:
            message += f" ({notes[0]})"
    elif not units:
        lost = [d for d in devices if not d.valid]
        status = "error" if lost else "no-devices"
        why = (
            f"{lost[0].label} is unusable: {lost[0].error}"
            if lost
            else "MIG mode is on and no MIG instance is visible or configured"
        )
        message = f"{_count(len(devices))} visible but none usable: {why}"
    else:
        status = "ok"
        best = best_of(units)
        message = f"{_count(len(devices))} visible; best: {best.label} {best.name}"
        if best.memory_free is not None:
            message += f" ({gb(best.memory_free)} free)"
    return GpuReport(
        status=status,
        message=message,
        driver_version=driver,
        cuda_driver_version=cuda,
        devices=tuple(devices),
        hidden_count=hidden,
        notes=notes,
        visibility=visibility,
        checked_at=now if checked_at is None else checked_at,
        read_at=now,
    )


def _count(n: int) -> str:
    return f"{n} NVIDIA GPU" + ("" if n == 1 else "s")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):  # nvidia-ml-py < 11.5 returned bytes
        return value.decode(errors="replace")
    return str(value)


def _int_attr(struct: Any, name: str) -> int | None:
    value = getattr(struct, name, None)
    return int(value) if value is not None else None


# --- per-process queries -------------------------------------------------------------------
# NVML's "not available" for a process's memory (pynvml >= 11.5 turns it into None itself).
_NOT_AVAILABLE_U64 = 2**64 - 1


@dataclass(frozen=True)
class RunningProcess:
    """One compute process on one unit as NVML lists it. ``pid`` is as the driver numbers
    it, which need not be this PID namespace's numbering."""

    pid: int
    memory_used: int | None


@dataclass(frozen=True)
class ProcessUtilization:
    """The newest per-process utilization sample NVML keeps for a pid (percent)."""

    sm: int | None
    memory: int | None


def running_processes(query: Query, handle: Handle) -> list[RunningProcess] | None:
    """The compute processes on ``handle`` (a GPU or a MIG instance), newest API first;
    None, with the reason under ``query.unavailable["processes"]``, when NVML cannot say.
    Raises DeviceLost."""
    found = query.get(
        "processes",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses",
        args=(handle,),
    )
    if found is None:
        return None
    listed: dict[int, RunningProcess] = {}
    for item in found:
        pid = _int_attr(item, "pid")
        if pid is None:
            continue
        used = _int_attr(item, "usedGpuMemory")
        if used is not None and not 0 <= used < _NOT_AVAILABLE_U64:
            used = None
        # NVML lists a process once per context; some drivers repeat one: keep the larger.
        before = listed.get(pid)
        if before is None or (used or 0) > (before.memory_used or 0):
            listed[pid] = RunningProcess(pid, used)
    return list(listed.values())


def process_utilization(
    query: Query, handle: Handle, not_found: type[BaseException]
) -> dict[int, ProcessUtilization] | None:
    """The newest SM and memory utilization sample per pid on ``handle``; an empty dict
    when NVML holds no sample (NotFound: nothing ran lately), None with the reason under
    ``query.unavailable["process_utilization"]`` when it cannot tell (MIG instances, older
    GPUs). Raises DeviceLost."""
    samples = query.get(
        "process_utilization",
        "nvmlDeviceGetProcessUtilization",
        args=(handle, 0),  # since timestamp 0: every sample in the driver's buffer
        empty=(not_found,),
        default=[],
    )
    if samples is None:
        return None
    newest: dict[int, tuple[int, ProcessUtilization]] = {}
    for sample in samples:
        pid = _int_attr(sample, "pid")
        if pid is None:
            continue
        stamp = _int_attr(sample, "timeStamp") or 0
        if pid not in newest or stamp >= newest[pid][0]:
            reading = ProcessUtilization(
                _percent(_int_attr(sample, "smUtil")), _percent(_int_attr(sample, "memUtil"))
            )
            newest[pid] = (stamp, reading)
    return {pid: reading for pid, (_, reading) in newest.items()}


def _percent(value: int | None) -> int | None:
    return value if value is not None and 0 <= value <= 100 else None
