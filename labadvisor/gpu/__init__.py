"""What GPU this kernel can use, and how busy it is, through NVIDIA's NVML (nvidia-ml-py).

``detect()`` probes the devices once per process (``refresh=True`` probes again) and reads
their memory and utilization again once the last reading is ``max_age`` seconds old (1 s
by default); ``sample()`` gives cheap live readings for panels. Importing this package does
not import pynvml; a machine without a GPU, a driver or nvidia-ml-py gets a report saying
so rather than an exception. Which devices count follows ``CUDA_VISIBLE_DEVICES`` and
``NVIDIA_VISIBLE_DEVICES`` as described in :mod:`labadvisor.gpu.visibility`.
"""

from __future__ import annotations

from labadvisor.gpu.detection import detect
from labadvisor.gpu.report import STATUSES, GpuDevice, GpuReport, MigDevice
from labadvisor.gpu.sampling import DeviceSample, GpuSample, Sampler, sample

__all__ = [
    "STATUSES",
    "DeviceSample",
    "GpuDevice",
    "GpuReport",
    "GpuSample",
    "MigDevice",
    "Sampler",
    "detect",
    "sample",
]
