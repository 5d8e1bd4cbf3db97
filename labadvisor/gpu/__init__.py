"""What GPU this kernel can use, and how busy it is, through NVIDIA's NVML (nvidia-ml-py).

``detect()`` probes the devices once per process (``refresh=True`` probes again) and reads
their memory and utilization again once the last reading is ``max_age`` seconds old (1 s
by default); ``sample()`` gives cheap live readings for panels. Importing this package does
not import pynvml; a machine without a GPU, a driver or nvidia-ml-py gets a report saying
so rather than an exception. Which devices count follows ``CUDA_VISIBLE_DEVICES`` and
``NVIDIA_VISIBLE_DEVICES`` as described in :mod:`labadvisor.gpu.visibility`.

``processes()`` lists the compute processes on those devices and whose they are (this
kernel, another Jupyter kernel, a container, another process; see
:mod:`labadvisor.gpu.processes` for the rules), and ``make_room()`` names the holders whose
memory would make a model fit.
"""

from __future__ import annotations

from labadvisor.gpu.detection import detect
from labadvisor.gpu.process_report import (
    HOLDER_KINDS,
    GpuProcess,
    GpuProcesses,
    KernelInfo,
    UnitProcesses,
)
from labadvisor.gpu.processes import processes
from labadvisor.gpu.report import STATUSES, GpuDevice, GpuReport, MigDevice
from labadvisor.gpu.room import Holding, Room, make_room
from labadvisor.gpu.sampling import DeviceSample, GpuSample, Sampler, sample

__all__ = [
    "HOLDER_KINDS",
    "STATUSES",
    "DeviceSample",
    "GpuDevice",
    "GpuProcess",
    "GpuProcesses",
    "GpuReport",
    "GpuSample",
    "Holding",
    "KernelInfo",
    "MigDevice",
    "Room",
    "Sampler",
    "UnitProcesses",
    "detect",
    "make_room",
    "processes",
    "sample",
]
