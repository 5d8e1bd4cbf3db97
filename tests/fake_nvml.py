"""A fake NVML: the function names, signatures, error classes and constants of pynvml, over
an in-memory list of GPUs, so detection can be driven through every case without hardware.

The error classes and constants are pynvml's own (pynvml imports without a GPU), so code
under test sees exactly the exceptions the real library raises. ``use_backend`` installs a
fake; the fixtures in gpu_fixtures.py call it for tests and undo it afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

from labadvisor.gpu import detection

GiB = 1024**3


@dataclass
class FakeProcess:
    """A compute process as NVML lists it on a GPU or MIG instance."""

    pid: int
    memory_used: int | None = 1 * GiB  # None: NVML cannot tell (pynvml gives None too)
    utilization: tuple[int, int] | None = None  # (SM %, memory %) of its newest sample
    older: list[tuple[int, int]] = field(default_factory=list)  # earlier samples, oldest first


@dataclass
class FakeMig:
    name: str
    uuid: str
    memory_total: int
    memory_used: int = 0
    gpu_instance_id: int = 1
    compute_instance_id: int = 0
    slot: int | None = None  # position among the parent's slots; None = next free one
    processes: list[FakeProcess] = field(default_factory=list)


@dataclass
class FakeGpu:
    name: str = "NVIDIA L4"
    uuid: str = "GPU-5c4d2a1e-0000-1111-2222-333344445555"
    memory_total: int = 23034 * 1024**2  # what NVML reports for an L4
    memory_used: int = 300 * 1024**2
    utilization: tuple[int, int] = (7, 3)
    compute_capability: tuple[int, int] = (8, 9)
    temperature: int = 41
    power_mw: int = 27_000
    power_limit_mw: int = 72_000
    mig_mode: bool = False
    mig: list[FakeMig] = field(default_factory=list)
    max_mig: int = 7
    lost: bool = False  # every call on this GPU raises GpuIsLost
    handle_error: int | None = None  # error code nvmlDeviceGetHandleByIndex raises
    unsupported: set[str] = field(default_factory=set)  # functions raising NotSupported here
    processes: list[FakeProcess] = field(default_factory=list)  # outside any MIG instance


@dataclass(frozen=True)
class FakeHandle:
    gpu: int
    mig: int | None = None


class FakeNvml:
    """Installed by the ``fake_nvml`` fixture (tests/gpu_fixtures.py), or by ``use_backend``.

    ``init_error``: an NVML error code or an exception instance nvmlInit raises.
    ``missing``: functions the "driver" lacks (NVMLError_FunctionNotFound).
    ``absent``: functions this "nvidia-ml-py" lacks (AttributeError, as an old pynvml).
    ``mismatch``: functions raising NVMLLibraryMismatchError.
    """

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        init_error: int | BaseException | None = None,
        driver_version: str = "550.54.15",
        cuda_version: int = 12040,
        missing: set[str] | None = None,
        absent: set[str] | None = None,
        mismatch: set[str] | None = None,
        count_error: int | None = None,
    ) -> None:
        self.gpus = list(gpus or [])
        self.init_error = init_error
        self.driver_version = driver_version
        self.cuda_version = cuda_version
        self.missing = set(missing or ())
        self.absent = set(absent or ())
        self.mismatch = set(mismatch or ())
        self.count_error = count_error
        self.calls: Counter[str] = Counter()
        self.initialised = 0  # nvmlInit minus nvmlShutdown, like NVML's reference count
        for gpu in self.gpus:
            _place_mig(gpu)

    # pynvml's error classes and NVML_* constants, unchanged
    def __getattr__(self, name: str) -> Any:
        if name.startswith(("NVMLError", "NVML_", "NVMLLibraryMismatchError")):
            return getattr(pynvml, name)
        raise AttributeError(name)

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("nvml") and name in object.__getattribute__(self, "absent"):
            raise AttributeError(f"module 'pynvml' has no attribute {name!r}")
        return object.__getattribute__(self, name)

    def _enter(self, name: str) -> None:
        """Count the call, and fail as NVML does before nvmlInit or in a driver without it."""
        self.calls[name] += 1
        if name != "nvmlInit" and self.initialised <= 0:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if name in self.missing:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        if name in self.mismatch:
            raise pynvml.NVMLLibraryMismatchError(f"{name}: pyNVML does not match the NVML lib")

    def _device(self, name: str, handle: FakeHandle) -> FakeGpu:
        """``_enter`` for a per-device call: also fails as a lost or limited GPU does."""
        self._enter(name)
        gpu = self.gpus[handle.gpu]
        if gpu.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if name in gpu.unsupported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu

    # --- library ---------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self._enter("nvmlInit")
        if isinstance(self.init_error, BaseException):
            raise self.init_error
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        self.initialised -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion_v2")
        return self.cuda_version

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        if self.count_error is not None:
            raise pynvml.NVMLError(self.count_error)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        if gpu.handle_error is not None:
            raise pynvml.NVMLError(gpu.handle_error)
        return FakeHandle(index)

    # --- per device (a MIG handle answers for its instance) ------------------------------
    def nvmlDeviceGetName(self, handle: FakeHandle) -> str:
        gpu = self._device("nvmlDeviceGetName", handle)
        return self._mig(gpu, handle).name if handle.mig is not None else gpu.name

    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str:
        gpu = self._device("nvmlDeviceGetUUID", handle)
        return self._mig(gpu, handle).uuid if handle.mig is not None else gpu.uuid

    def nvmlDeviceGetMemoryInfo(self, handle: FakeHandle, version: Any = None) -> Any:
        gpu = self._device("nvmlDeviceGetMemoryInfo", handle)
        if handle.mig is not None:
            mig = self._mig(gpu, handle)
            total, used = mig.memory_total, mig.memory_used
        else:
            total, used = gpu.memory_total, gpu.memory_used
        # NVML's counters are unsigned 64-bit: used > total wraps free round to ~18 EB.
        return SimpleNamespace(total=total, used=used, free=(total - used) % 2**64)

    def nvmlDeviceGetUtilizationRates(self, handle: FakeHandle) -> Any:
        gpu = self._device("nvmlDeviceGetUtilizationRates", handle)
        if handle.mig is not None or gpu.mig_mode:  # NVML has no per-instance utilization
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpu=gpu.utilization[0], memory=gpu.utilization[1])

    def nvmlDeviceGetCudaComputeCapability(self, handle: FakeHandle) -> tuple[int, int]:
        gpu = self._device("nvmlDeviceGetCudaComputeCapability", handle)
        return gpu.compute_capability

    def nvmlDeviceGetTemperatureV(self, handle: FakeHandle, sensor: int, version: int = 0) -> int:
        gpu = self._device("nvmlDeviceGetTemperatureV", handle)
        return gpu.temperature

    def nvmlDeviceGetTemperature(self, handle: FakeHandle, sensor: int) -> int:
        gpu = self._device("nvmlDeviceGetTemperature", handle)
        return gpu.temperature

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetPowerUsage", handle).power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        return self._device("nvmlDeviceGetEnforcedPowerLimit", handle).power_limit_mw

    def nvmlDeviceGetMigMode(self, handle: FakeHandle) -> list[int]:
        gpu = self._device("nvmlDeviceGetMigMode", handle)
        mode = int(gpu.mig_mode)
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: FakeHandle) -> int:
        gpu = self._device("nvmlDeviceGetMaxMigDeviceCount", handle)
        return gpu.max_mig if gpu.mig_mode else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: FakeHandle, index: int) -> FakeHandle:
        gpu = self._device("nvmlDeviceGetMigDeviceHandleByIndex", handle)
        if not any(m.slot == index for m in gpu.mig):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return FakeHandle(handle.gpu, index)

    def nvmlDeviceGetGpuInstanceId(self, handle: FakeHandle) -> int:
        gpu = self._device("nvmlDeviceGetGpuInstanceId", handle)
        return self._mig(gpu, handle).gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, handle: FakeHandle) -> int:
        gpu = self._device("nvmlDeviceGetComputeInstanceId", handle)
        return self._mig(gpu, handle).compute_instance_id

    # --- processes ----------------------------------------------------------------------
    def _processes(self, name: str, handle: FakeHandle) -> list[Any]:
        gpu = self._device(name, handle)
        if handle.mig is not None:
            listed = self._mig(gpu, handle).processes
        else:  # the GPU itself: in MIG mode every instance's processes too, as root sees them
            listed = gpu.processes + [p for mig in gpu.mig for p in mig.processes]
        return [
            SimpleNamespace(pid=p.pid, usedGpuMemory=p.memory_used, gpuInstanceId=0,
                            computeInstanceId=0)
            for p in listed
        ]  # fmt: skip

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: FakeHandle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v3", handle)

    def nvmlDeviceGetComputeRunningProcesses_v2(self, handle: FakeHandle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v2", handle)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeHandle) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses", handle)

    def nvmlDeviceGetProcessUtilization(self, handle: FakeHandle, timeStamp: int) -> list[Any]:
        """Samples newer than ``timeStamp`` (µs); NotFound when there are none, NotSupported
        on a MIG instance, as the real NVML."""
        gpu = self._device("nvmlDeviceGetProcessUtilization", handle)
        if handle.mig is not None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        samples = []
        for process in gpu.processes:
            history = [*process.older, *([process.utilization] if process.utilization else [])]
            for age, (sm, mem) in enumerate(reversed(history)):
                stamp = 1_795_716_214_000_000 - age * 1_000_000
                if stamp > timeStamp:
                    samples.append(
                        SimpleNamespace(pid=process.pid, timeStamp=stamp, smUtil=sm,
                                        memUtil=mem, encUtil=0, decUtil=0)
                    )  # fmt: skip
        if not samples:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return samples[::-1]  # oldest first, so "newest per pid" must be worked out

    @staticmethod
    def _mig(gpu: FakeGpu, handle: FakeHandle) -> FakeMig:
        if handle.mig is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return next(m for m in gpu.mig if m.slot == handle.mig)

    def functions(self) -> list[str]:
        """The pynvml functions this fake implements (checked against pynvml in a test)."""
        return sorted(n for n in dir(type(self)) if n.startswith("nvml"))


def use_backend(lib: object | None) -> None:
    """Make labadvisor.gpu talk to ``lib`` (a FakeNvml, say) from its next call, or to the
    real pynvml again when None, forgetting what it learnt through the library before. Tests
    get this through the fixtures in gpu_fixtures.py; scripts and benchmarks call it."""
    detection._use_backend(lib)


def _place_mig(gpu: FakeGpu) -> None:
    used = {m.slot for m in gpu.mig if m.slot is not None}
    free = (s for s in range(gpu.max_mig) if s not in used)
    for mig in gpu.mig:
        if mig.slot is None:
            mig.slot = next(free)


def l4(index: int = 0, **changes: Any) -> FakeGpu:
    """An NVIDIA L4 with a distinct UUID per index."""
    return FakeGpu(uuid=f"GPU-5c4d2a1e-0000-1111-2222-33334444555{index}", **changes)


def a100_mig(index: int = 0, instances: int = 2, **changes: Any) -> FakeGpu:
    """An A100 40GB in MIG mode with ``instances`` 3g.20gb instances (GI ids 1, 2, ...)."""
    uuid = f"GPU-a100a100-0000-1111-2222-00000000000{index}"
    migs = [
        FakeMig(
            name="NVIDIA A100-SXM4-40GB MIG 3g.20gb",
            uuid=f"MIG-{index}{i}aaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeeee",
            memory_total=19968 * 1024**2,
            memory_used=13 * 1024**2 if i == 0 else 4 * GiB,  # the first one is idle
            gpu_instance_id=i + 1,
            compute_instance_id=0,
        )
        for i in range(instances)
    ]
    return FakeGpu(
        name="NVIDIA A100-SXM4-40GB",
        uuid=uuid,
        memory_total=40960 * 1024**2,
        memory_used=8 * GiB,
        compute_capability=(8, 0),
        power_limit_mw=400_000,
        mig_mode=True,
        mig=migs,
        **changes,
    )
