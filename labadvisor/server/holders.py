"""Who holds GPU memory, as the server sees it: :func:`labadvisor.gpu.processes` with the
server's kernels, shaped for ``GET gpu/processes`` and for the usage sampler.

Seen from the server, the library's "this kernel" is the Jupyter server itself or a process
it started that is not a kernel (a terminal's ``python train.py``): such a process is
answered as "other", named by its user and command line, with a note saying so.
Containers are named by the current Docker context's engine when it answers within
:data:`CONTAINER_NAME_TIMEOUT_S`; otherwise by their short id.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

    from labadvisor.gpu import GpuProcess, GpuProcesses, KernelInfo
    from labadvisor.usage import HolderReading

CONTAINER_NAME_TIMEOUT_S = 1.0
_SERVER_NOTE = "started from this Jupyter server (the server itself, or a terminal's process)"


class ContainerNames:
    """A container id -> its name, from the current Docker context's engine; one client for
    one ``processes()`` call, made on the first container and given up on at the first
    failure (the id then names the container)."""

    def __init__(self, timeout_s: float = CONTAINER_NAME_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._client: docker.DockerClient | None = None
        self._failed = False

    def __call__(self, container_id: str) -> str | None:
        if self._failed:
            return None
        try:
            if self._client is None:
                from labadvisor import contexts

                self._client = contexts.client(timeout=self.timeout_s)
            name = self._client.containers.get(container_id).name
        except Exception:  # no engine, not answering, no such container: the id names it
            self._failed = True
            return None
        return name if isinstance(name, str) and name else None

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None


def read(kernel_pids: Mapping[int, KernelInfo]) -> GpuProcesses:
    """``labadvisor.gpu.processes`` with the server's kernels and container names, with
    the server's own processes answered as "other" (see the module docstring)."""
    from labadvisor import gpu

    names = ContainerNames()
    try:
        found = gpu.processes(kernel_pids=kernel_pids, docker_names=names)
    finally:
        names.close()
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
