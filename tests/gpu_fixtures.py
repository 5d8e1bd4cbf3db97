"""Fixtures that point labadvisor.gpu at the fake NVML of fake_nvml.py and give the real
pynvml back afterwards, the one that skips tests needing real NVIDIA hardware, and what the
process-attribution tests need: a /proc-like tree and a stand-in for /dev/nvidia0.
Registered as a pytest plugin in conftest.py.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import pynvml
import pytest
from fake_nvml import FakeGpu, FakeNvml, use_backend

from labadvisor.gpu import procfs

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


@pytest.fixture
def no_real_gpu(real_nvml: None) -> None:
    """For tests of this machine's real NVML when it has no GPU: skipped on a GPU machine."""
    if _real_gpu_present():
        pytest.skip("this machine has a GPU; the no-GPU path is checked where there is none")


# --- /proc for the process-attribution tests ---------------------------------------------


@dataclass
class ProcEntry:
    """One process of a /proc-like tree: what /proc/<pid>/{stat,cmdline,cgroup,fd} hold."""

    ppid: int = 1
    comm: str = "python3"
    cmdline: tuple[str, ...] = ("python3", "train.py")
    cgroup: str = "0::/user.slice/user-1000.slice/session-1.scope"
    open_files: tuple[str, ...] = ("/dev/pts/0", "/dev/nvidiactl", "/dev/nvidia0")
    fd_readable: bool = True  # False: no fd directory at all, so GPU use cannot be checked


def build_proc_tree(root: Path, entries: Mapping[int, ProcEntry]) -> Path:
    """Lay ``entries`` out under ``root`` as /proc does; returns ``root``."""
    for pid, entry in entries.items():
        base = root / str(pid)
        base.mkdir(parents=True)
        (base / "stat").write_text(f"{pid} ({entry.comm}) S {entry.ppid} {pid} {pid} 0 -1\n")
        (base / "cmdline").write_bytes(b"\0".join(a.encode() for a in entry.cmdline) + b"\0")
        (base / "cgroup").write_text(entry.cgroup + "\n")
        if entry.fd_readable:
            (base / "fd").mkdir()
            for number, target in enumerate(entry.open_files):
                os.symlink(target, base / "fd" / str(number))
    return root


@pytest.fixture
def gpu_device_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A file that stands for /dev/nvidia0: procfs counts a process holding it open as a
    GPU user, and this test process holds it open while the test runs. Pass it as stdin to
    a child process to make that child a GPU user too."""
    device = tmp_path / "dev" / "nvidia0"
    device.parent.mkdir()
    device.write_bytes(b"")
    monkeypatch.setattr(procfs, "GPU_DEVICE_PREFIXES", (str(device.parent / "nvidia"),))
    handle: IO[bytes] = device.open("rb")
    try:
        yield device
    finally:
        handle.close()
