"""Fixtures that point labadvisor.gpu at the fake NVML of fake_nvml.py and give the real
pynvml back afterwards, the one that skips tests needing real NVIDIA hardware, and what the
process-attribution tests need: a /proc-like tree, a stand-in for /dev/nvidia0, a Jupyter
runtime directory of the test's own with fake Jupyter servers (fake_jupyter.py), and a real
container (on the test engines of docker_engines.py) whose process holds that stand-in.
Registered as a pytest plugin in conftest.py.
"""

from __future__ import annotations

import ctypes
import functools
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import pynvml
import pytest
from docker_engines import DOCKER_VARIABLES, DockerEngines
from fake_jupyter import FakeJupyter
from fake_nvml import FakeGpu, FakeNvml, use_backend

from labadvisor.gpu import jupyter_kernels, procfs

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


class StartJupyter(Protocol):
    def __call__(self, **options: Any) -> FakeJupyter: ...


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


@pytest.fixture
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Jupyter's runtime directory (JUPYTER_RUNTIME_DIR) for this test only, empty, and no
    sessions answer kept from an earlier test: where processes() looks for Jupyter servers."""
    directory = tmp_path / "jupyter-runtime"
    directory.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(directory))
    jupyter_kernels.forget()
    yield directory
    jupyter_kernels.forget()


@pytest.fixture
def fake_jupyter() -> Iterator[StartJupyter]:
    """``fake_jupyter(sessions=[...], hang=..., ...)`` -> a running
    :class:`fake_jupyter.FakeJupyter`; all are stopped afterwards."""
    started: list[FakeJupyter] = []

    def start(**options: Any) -> FakeJupyter:
        server = FakeJupyter(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@dataclass(frozen=True)
class GpuContainer:
    """A running container whose main process holds the stand-in GPU device open."""

    id: str
    name: str
    pid: int  # its main process, as this (the host's) PID namespace numbers it


@pytest.fixture
def gpu_container(
    docker_engines: DockerEngines,
    gpu_device_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[GpuContainer]:
    """A container on the local test engine, the engine of the current Docker context (a
    private copy of the store, "default" = local engine), running busybox ``sleep`` with
    ``gpu_device_file`` (bind-mounted at the same path) open as CUDA would keep
    /dev/nvidia0: NVML, faked, may report its pid. Removed afterwards. Tests using it
    carry the ``docker`` marker."""
    import docker

    from labadvisor.contexts import kernel_env

    for name in DOCKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kernel_env, "_set_aside", {})
    store = docker_engines.copy_config(tmp_path / "docker-config")
    for name, value in docker_engines.env(store).items():
        monkeypatch.setenv(name, value)
    device = str(gpu_device_file)
    client = docker.DockerClient(base_url=docker_engines.local_host)
    container = client.containers.run(
        docker_engines.image,
        ["sh", "-c", f"exec sleep 300 < {device}"],
        name=f"la-gpu-{uuid.uuid4().hex[:8]}",
        detach=True,
        network_mode="none",
        volumes={str(gpu_device_file.parent): {"bind": str(gpu_device_file.parent), "mode": "ro"}},
    )
    try:
        container.reload()
        pid = int(container.attrs["State"]["Pid"])
        deadline = time.monotonic() + 10
        while _open_file(pid, 0) != device:  # the shell opens it just before it execs sleep
            assert time.monotonic() < deadline, f"container process {pid} never opened {device}"
            time.sleep(0.02)
        yield GpuContainer(container.id, container.name, pid)
    finally:
        container.remove(force=True)
        client.close()


def _open_file(pid: int, fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
