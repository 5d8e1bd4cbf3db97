"""``processes()``: which processes hold memory on the GPUs this kernel can see, and whose
they are — this kernel, another Jupyter kernel, a container, another process — or that
the pid NVML gives is not a process of this PID namespace.

Attribution rules (best effort, never a wrong name):

1. NVML gives each process's pid as the driver numbers it. Inside a container that is
   usually the host's numbering, so a pid is only taken to mean the local process with the
   same number after /proc shows that process holding an NVIDIA device (an open
   /dev/nvidia* file, which every CUDA process keeps while it has a context):
   - no /proc/<pid> here, or one whose open files include no /dev/nvidia* device:
     "not-visible", never attributed to the local process that has the number;
   - /proc/<pid>/fd not readable (another user's process, without root): attributed as
     below but marked ``verified=False``, with the reason in ``note``.
2. A process is "this-kernel" when it is the calling process or descends from it, and
   "jupyter-kernel" when it is, or descends from, a pid of ``kernel_pids`` (DataLoader
   workers count as their kernel's); the nearest such ancestor decides, within
   ``procfs.MAX_ANCESTRY`` generations of /proc/<pid>/stat parents.
3. Without ``kernel_pids`` (inside a kernel, a terminal), "jupyter-kernel" too when it
   is, or descends from, a process whose command line names a kernel connection file
   ``kernel-<id>.json`` (another notebook's kernel), unless that process is in another
   container than this one (then rule 4 names the container). The local Jupyter servers'
   sessions name its notebook (:mod:`labadvisor.gpu.jupyter_kernels`: bounded, cached);
   else the kernel is known by its id alone and ``note`` says why. Given ``kernel_pids``
   (the server), the map is the word on which processes are kernels: another server's
   kernel stays "other", as its notebook paths are not this server's.
4. Otherwise "container" when its /proc/<pid>/cgroup names a container id (Docker,
   containerd/CRI, CRI-O, podman), named by ``docker_names`` when it answers; otherwise
   "other", with its user and command line where /proc shows them.

Left open: inside a nested PID namespace, a local process that holds a GPU and happens to
share its number with a host pid of a different GPU process is indistinguishable from it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from labadvisor.gpu import detection, jupyter_kernels, nvml
from labadvisor.gpu.process_report import (
    GpuProcess,
    GpuProcesses,
    HolderKind,
    KernelInfo,
    UnitProcesses,
)
from labadvisor.gpu.procfs import Procfs
from labadvisor.gpu.report import GpuDevice, gb

DockerNames = Callable[[str], str | None]


def processes(
    kernel_pids: Mapping[int, KernelInfo] | None = None,
    docker_names: DockerNames | None = None,
    *,
    proc_root: str | os.PathLike[str] = "/proc",
) -> GpuProcesses:
    """The compute processes on every visible GPU and MIG instance, attributed.

    ``kernel_pids``: the Jupyter server's kernels, pid → :class:`KernelInfo` (kernel id,
    kernel name, notebook path). ``docker_names``: given a container id, its name, or None
    (the server asks the current Docker context's engine); errors it raises are ignored.
    ``proc_root`` is where /proc is (tests pass a tree laid out like it).

    Reads NVML afresh on each call (two queries per unit, over the handles detection keeps)
    and each pid's /proc files once. Without ``kernel_pids``, another Jupyter kernel, found
    by its command line, is named by its notebook as the local Jupyter servers' sessions
    say (asked at most every few seconds, waited for half a second at most). Never raises
    for what the machine lacks: without NVML, or an NVML without the process API, the
    answer is empty and says why.
    """
    kernels = _checked_kernels(kernel_pids)
    if docker_names is not None and not callable(docker_names):
        raise ValueError(
            "docker_names must be a function from a container id to its name (or None), "
            f"got {docker_names!r}"
        )
    entry = detection.current()
    report = entry.report
    if entry.lib is None:
        return GpuProcesses(report.status, report.message, read_at=time.time())
    errors = nvml.Errors.of(entry.lib)
    # The server's map, when given, is the word on which processes are kernels; without
    # it (inside a kernel, a terminal) kernels are found by their command lines.
    attribute = _Attributor(
        Procfs(proc_root), os.getpid(), kernels, docker_names, find_kernels=kernel_pids is None
    )
    units: list[UnitProcesses] = []
    for device in report.devices:
        units.extend(_device_units(entry, errors, device, attribute))
    return GpuProcesses(
        report.status,
        _message(report.message, units),
        tuple(units),
        _notes(units),
        time.time(),
    )


def _device_units(
    entry: detection.Entry, errors: nvml.Errors, device: GpuDevice, attribute: _Attributor
) -> list[UnitProcesses]:
    """One entry for a GPU, or one per visible MIG instance of a GPU in MIG mode (where
    the GPU's own handle would list every instance's processes at once, or none)."""
    if not device.valid:
        unit = UnitProcesses(device.index, None, device.name, device.uuid)
        return [replace(unit, valid=False, error=device.error)]
    if not device.mig_mode:
        unit = UnitProcesses(device.index, None, device.name, device.uuid)
        return [_read_unit(entry, errors, unit, attribute)]
    units = []
    for mig in device.mig_devices:
        unit = UnitProcesses(device.index, mig.index, mig.name, mig.uuid)
        if not mig.valid:
            units.append(replace(unit, valid=False, error=mig.error))
        else:
            units.append(_read_unit(entry, errors, unit, attribute))
    return units


def _read_unit(
    entry: detection.Entry, errors: nvml.Errors, unit: UnitProcesses, attribute: _Attributor
) -> UnitProcesses:
    handle = entry.handles.get((unit.index, unit.mig_index))
    if handle is None:
        return replace(unit, valid=False, error="no NVML handle")
    query = nvml.Query(entry.lib, errors)
    try:
        memory = nvml._memory(query, handle)
        listed = nvml.running_processes(query, handle)
        utilization = nvml.process_utilization(query, handle, errors.not_found) if listed else None
    except nvml.DeviceLost as exc:
        return replace(unit, valid=False, error=str(exc))
    samples = utilization or {}
    found = []
    for running in listed or ():
        sample = samples.get(running.pid)
        found.append(
            attribute(running.pid).process(
                running.memory_used,
                sample.sm if sample else None,
                sample.memory if sample else None,
            )
        )
    found.sort(key=lambda p: (-(p.memory_used or 0), p.pid))
    return replace(
        unit,
        memory_total=memory.total,
        memory_used=memory.used,
        memory_free=memory.free,
        processes=tuple(found),
        unavailable=dict(query.unavailable),
    )


@dataclass(frozen=True)
class _Attribution:
    """Who a pid belongs to: everything of a GpuProcess but NVML's figures."""

    pid: int
    holder: HolderKind
    verified: bool = True
    via_pid: int | None = None
    kernel: KernelInfo | None = None
    container_id: str | None = None
    container_name: str | None = None
    user: str | None = None
    command: str | None = None
    note: str | None = None

    def process(self, memory_used: int | None, sm: int | None, memory: int | None) -> GpuProcess:
        # Built field by field: dataclasses.replace cost a sixth of a 400-process call.
        return GpuProcess(
            pid=self.pid,
            holder=self.holder,
            memory_used=memory_used,
            sm_utilization=sm,
            memory_utilization=memory,
            verified=self.verified,
            via_pid=self.via_pid,
            kernel=self.kernel,
            container_id=self.container_id,
            container_name=self.container_name,
            user=self.user,
            command=self.command,
            note=self.note,
        )


@dataclass
class _Attributor:
    """Who a pid belongs to, worked out once per pid per call."""

    proc: Procfs
    self_pid: int
    kernels: Mapping[int, KernelInfo]
    docker_names: DockerNames | None
    find_kernels: bool = True  # find other kernels by their command lines (rule 3)

    def __post_init__(self) -> None:
        self._done: dict[int, _Attribution] = {}
        self._names: dict[str, str | None] = {}
        self._own_container: tuple[str | None] | None = None  # read on first need
        self._found_kernels: dict[str, tuple[KernelInfo, str | None]] = {}
        self._kernel_ids: dict[int, str | None] = {}  # pid -> the kernel its command line names
        self._sessions: jupyter_kernels.SessionKernels | None = None  # asked on first need

    def __call__(self, pid: int) -> _Attribution:
        known = self._done.get(pid)
        if known is None:
            known = self._done[pid] = self._attribute(pid)
        return known

    def _attribute(self, pid: int) -> _Attribution:
        facts = self.proc.facts(pid)
        if not facts.exists:
            return _Attribution(
                pid,
                "not-visible",
                note=f"no process {pid} in this PID namespace: NVML numbers processes as "
                "the driver sees them, which inside a container are the host's pids",
            )
        if facts.gpu_use == "no":
            return _Attribution(
                pid,
                "not-visible",
                note=f"process {pid} here ({facts.comm}) has no NVIDIA device open, so it "
                "is not the one NVML means: that pid belongs to another PID namespace",
            )
        verified = facts.gpu_use == "yes"
        note = None
        if not verified:
            note = (
                f"could not check that process {pid} here is the one NVML means "
                f"({facts.gpu_use_reason})"
            )
        user, command = self.proc.user(facts.uid), self.proc.command(pid)
        ancestry = self.proc.ancestry(pid)
        for ancestor in ancestry:
            if ancestor == self.self_pid or ancestor in self.kernels:
                return _Attribution(
                    pid,
                    "this-kernel" if ancestor == self.self_pid else "jupyter-kernel",
                    verified,
                    via_pid=ancestor if ancestor != pid else None,
                    kernel=self.kernels.get(ancestor),
                    user=user,
                    command=command,
                    note=note,
                )
        found = self._jupyter_kernel(pid, ancestry) if self.find_kernels else None
        if found is not None:
            ancestor, kernel, unnamed = found
            return _Attribution(
                pid,
                "jupyter-kernel",
                verified,
                via_pid=ancestor if ancestor != pid else None,
                kernel=kernel,
                user=user,
                command=command,
                note=_joined(note, unnamed),
            )
        container = self.proc.container_id(pid)
        if container is None:
            return _Attribution(pid, "other", verified, user=user, command=command, note=note)
        if container == self._container_of_self():
            extra = "the container this kernel runs in"
            note = extra if note is None else f"{note}; {extra}"
        return _Attribution(
            pid,
            "container",
            verified,
            container_id=container,
            container_name=self._name(container),
            user=user,
            command=command,
            note=note,
        )

    def _jupyter_kernel(
        self, pid: int, ancestry: list[int]
    ) -> tuple[int, KernelInfo, str | None] | None:
        """The nearest of ``ancestry`` whose command line names a kernel connection file,
        with that kernel and, when its notebook is unknown, why; None when there is none
        or it runs in another container than this process."""
        for ancestor in ancestry:
            kernel_id = self._kernel_id_of(ancestor)
            if kernel_id is None:
                continue
            if self.proc.container_id(ancestor) != self._container_of_self():
                return None  # seen from outside its container: the container's name says more
            return (ancestor, *self._kernel(kernel_id))
        return None

    def _kernel_id_of(self, pid: int) -> str | None:
        # Memoized: every chain ends in the same few ancestors (init, a shell, the server).
        if pid not in self._kernel_ids:
            arguments = self.proc.arguments(pid)
            self._kernel_ids[pid] = jupyter_kernels.kernel_id_in(arguments) if arguments else None
        return self._kernel_ids[pid]

    def _kernel(self, kernel_id: str) -> tuple[KernelInfo, str | None]:
        """The kernel ``kernel_id`` as the local servers' sessions know it; else by its id
        alone, with why its notebook is unknown. The servers are asked once per call."""
        known = self._found_kernels.get(kernel_id)
        if known is not None:
            return known
        if self._sessions is None:
            ancestors = Procfs().ancestry(self.self_pid)  # the real /proc: servers are real
            self._sessions = jupyter_kernels.session_kernels(ancestors)
        info = self._sessions.kernels.get(kernel_id)
        unnamed = None
        if info is None:
            why = self._sessions.problem or "no local Jupyter server has a session for it"
            unnamed = (
                f"Jupyter kernel {kernel_id}, known by its connection file; its notebook is "
                f"unknown: {why}"
            )
            info = KernelInfo(kernel_id)
        self._found_kernels[kernel_id] = (info, unnamed)
        return info, unnamed

    def _container_of_self(self) -> str | None:
        if self._own_container is None:
            self._own_container = (self.proc.container_id(self.self_pid),)
        return self._own_container[0]

    def _name(self, container: str) -> str | None:
        if self.docker_names is None:
            return None
        if container not in self._names:
            try:
                name = self.docker_names(container)
            except Exception:  # the engine is down or slow: the id still names it
                name = None
            self._names[container] = name if isinstance(name, str) and name else None
        return self._names[container]


def _joined(*notes: str | None) -> str | None:
    return "; ".join(note for note in notes if note) or None


def _checked_kernels(kernel_pids: object) -> Mapping[int, KernelInfo]:
    if kernel_pids is None:
        return {}
    if not isinstance(kernel_pids, Mapping):
        raise ValueError(
            f"kernel_pids must map process ids to KernelInfo, got {type(kernel_pids).__name__}"
        )
    for pid, info in kernel_pids.items():
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise ValueError(f"kernel_pids keys must be positive process ids, got {pid!r}")
        if not isinstance(info, KernelInfo):
            raise ValueError(
                f"kernel_pids[{pid}] must be a labadvisor.gpu.KernelInfo, got {info!r}"
            )
    return kernel_pids


def _message(detected: str, units: list[UnitProcesses]) -> str:
    if not units:
        return detected
    listed = [u for u in units if u.valid and "processes" not in u.unavailable]
    if not listed:
        why = next((u.unavailable.get("processes") or u.error for u in units), "no unit answered")
        return f"NVML cannot list the GPU processes here: {why}"
    found = [p for u in listed for p in u.processes]
    if not found:
        return f"no compute process on {_units(len(listed))}"
    total = sum(p.memory_used or 0 for p in found)
    message = f"{len(found)} process(es) hold {gb(total)} on {_units(len(listed))}"
    if len(listed) < len(units):
        message += f"; {len(units) - len(listed)} more could not be listed"
    return message


def _notes(units: list[UnitProcesses]) -> tuple[str, ...]:
    found = [p for u in units for p in u.processes]
    if found and all(p.holder == "not-visible" for p in found):
        return (
            "no pid NVML reports is a GPU process of this PID namespace: this kernel "
            "probably runs in a container, and the holders can only be named from the host",
        )
    return ()


def _units(n: int) -> str:
    return f"{n} GPU unit" + ("" if n == 1 else "s")
