"""Fixtures that point labadvisor.gpu at the fake NVML of fake_nvml.py and give the real
pynvml back afterwards, and the one that skips tests needing real NVIDIA hardware.
Registered as a pytest plugin in conftest.py.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import pynvml
import pytest
from fake_nvml import FakeGpu, FakeNvml, use_backend

# What decides which GPUs detection reports; no test inherits them from the shell.
VISIBILITY_VARS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")


class InstallFake(Protocol):
    def __call__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> FakeNvml: ...


class InstallBackend(Protocol):
    def __call__(self, lib: object | None) -> None: ...


@pytest.fixture
def real_nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """labadvisor.gpu through the real pynvml, with nothing detected yet and no visibility
    variable set; left that way afterwards, whatever the test installed."""
    for var in VISIBILITY_VARS:
        monkeypatch.delenv(var, raising=False)
    use_backend(None)
    yield
    use_backend(None)


@pytest.fixture
def fake_nvml(real_nvml: None, monkeypatch: pytest.MonkeyPatch) -> InstallFake:
    """``fake_nvml(gpus, env={...}, **FakeNvml options)`` -> the FakeNvml that labadvisor.gpu
    talks to from then on; ``env`` sets variables for this test only. Call it again to swap."""

    def install(
        gpus: list[FakeGpu] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> FakeNvml:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        fake = FakeNvml(gpus, **options)
        use_backend(fake)
        return fake

    return install


@pytest.fixture
def nvml_backend(real_nvml: None) -> InstallBackend:
    """``nvml_backend(lib)``: labadvisor.gpu talks to ``lib``, a ready-made pynvml stand-in
    (a FakeNvml subclass that misbehaves, say), from then on."""
    return use_backend


@pytest.fixture
def fake_l4(fake_nvml: InstallFake) -> FakeNvml:
    """Detection and sampling see one NVIDIA L4; the real NVML comes back afterwards."""
    return fake_nvml([FakeGpu()])


def nvml_library_loads() -> bool:
    """Whether this machine has NVIDIA's NVML library (a driver) at all."""
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@functools.cache
def _real_gpu_present() -> bool:
    if not nvml_library_loads():
        return False
    try:
        pynvml.nvmlInit()
        try:
            return bool(pynvml.nvmlDeviceGetCount() > 0)
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        return False


@pytest.fixture
def real_gpu(real_nvml: None) -> None:
    """For the @pytest.mark.gpu tests: skipped, not failed, where there is no GPU to check."""
    if not _real_gpu_present():
        pytest.skip("needs an NVIDIA GPU and driver")
