"""Who holds GPU memory, as the server sees it: :func:`labadvisor.gpu.processes` with the
server's kernels, shaped for ``GET gpu/processes`` and for the usage sampler.

Seen from the server, the library's "this kernel" is the Jupyter server itself or a process
it started that is not a kernel (a terminal's ``python train.py``): such a process is
answered as "other", named by its user and command line, with a note saying so.
Containers are named by the current Docker context's engine through the one
:class:`~labadvisor.contexts.container_names.ContainerNames` the server keeps (bounded,
pausing while the engine does not answer); otherwise by their short id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labadvisor.gpu import GpuProcess, GpuProcesses, KernelInfo
    from labadvisor.gpu.processes import DockerNames
    from labadvisor.usage import HolderReading

_SERVER_NOTE = "started from this Jupyter server (the server itself, or a terminal's process)"


def read(
    kernel_pids: Mapping[int, KernelInfo], docker_names: DockerNames | None = None
) -> GpuProcesses:
    """``labadvisor.gpu.processes`` with the server's kernels and container names, with
    the server's own processes answered as "other" (see the module docstring). The GPU
    route, the runtime advice and the usage sampler all read the holders through here."""
    from labadvisor import gpu

    found = gpu.processes(kernel_pids=kernel_pids, docker_names=docker_names)
    devices = tuple(
        replace(unit, processes=tuple(_as_server(p) for p in unit.processes))
        for unit in found.devices
    )
    return replace(found, devices=devices)


def _as_server(process: GpuProcess) -> GpuProcess:
    if process.holder != "this-kernel":
        return process
    note = _SERVER_NOTE if process.note is None else f"{_SERVER_NOTE}; {process.note}"
    return replace(process, holder="other", kernel=None, via_pid=None, note=note)


def to_answer(found: GpuProcesses) -> dict[str, Any]:
    """The route's answer: the library's ``to_dict()`` with, on each process, its memory in
    GB (10^9 bytes) as ``memory_used_gb`` and its SM utilization as ``sm_util``."""
    data = found.to_dict()
    for device in data["devices"]:
        for process in device["processes"]:
            used = process.get("memory_used")
            process["memory_used_gb"] = None if used is None else round(used / 1e9, 3)
            process["sm_util"] = process.get("sm_utilization")
    return data


def holder_readings(found: GpuProcesses) -> list[HolderReading]:
    """What the usage ledger keeps of ``found``: per GPU unit and holder (a notebook's path
    for a Jupyter kernel, with its child processes summed; else the holder's label), the
    GPU memory held. Processes whose memory NVML cannot tell are left out."""
    from labadvisor.usage import HolderReading

    held: dict[tuple[str, str, str | None], int] = defaultdict(int)
    for unit in found.devices:
        for process in unit.processes:
            if process.memory_used is None:
                continue
            kernel = process.kernel if process.holder == "jupyter-kernel" else None
            name = (kernel.notebook_path if kernel else None) or process.label
            held[(unit.label, name, kernel.kernel_id if kernel else None)] += process.memory_used
    return [
        HolderReading(gpu_label, holder, memory, kernel_id)
        for (gpu_label, holder, kernel_id), memory in sorted(held.items(), key=str)
    ]
