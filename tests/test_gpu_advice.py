"""advise_runtime(gpu="auto") runs GPU detection (here through the fake NVML) and its
reasons name the GPU it found and the fit margin; the Offload side is the guide's L4."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_jupyter import session
from fake_nvml import FakeGpu, FakeNvml, FakeProcess, GiB, a100_mig, l4
from gpu_fixtures import StartJupyter

from labadvisor import advise_runtime, gpu
from labadvisor.explain import Reason
from labadvisor.gpu import jupyter_kernels
from labadvisor.guides import offload_guide

L4_FREE_GB = (23034 - 300) * 1024**2 / 1e9  # the fake L4: 23034 MiB total, 300 MiB used


# No visibility variable, and the real pynvml again after each test (gpu_fixtures.py).
pytestmark = pytest.mark.usefixtures("real_nvml")


@pytest.fixture
def machine(fake_nvml: Callable[..., FakeNvml]) -> Callable[..., FakeNvml]:
    return fake_nvml


def by_rule(advice: object, rule: str) -> list[str]:
    return [r.text for r in advice.reasons if r.rule == rule]  # type: ignore[attr-defined]


def test_auto_detects_the_gpu_and_reports_the_margin(machine: Callable[..., FakeNvml]) -> None:
    fake = machine([l4()])
    advice = advise_runtime(5, gpu="auto")
    assert fake.calls["nvmlInit"] == 1  # the answer came from detection, not a default
    assert advice.choice == "local-gpu"
    assert advice.gpu is not None and advice.gpu.name == "NVIDIA L4"
    assert advice.gpu.free_gb == pytest.approx(L4_FREE_GB)
    # 5 GB of weights need 5 + 10 % + the 0.5 GB CUDA context (estimate_memory) = 6 GB.
    assert advice.memory is not None and advice.memory.total_gb == pytest.approx(5 * 1.2)
    margin = L4_FREE_GB - 5 * 1.2
    assert advice.fit_margin_gb == pytest.approx(margin)
    (text,) = by_rule(advice, "gpu.fits")
    assert "NVIDIA L4" in text and f"margin of {margin:.1f} GB" in text


def test_gpu_is_the_default(machine: Callable[..., FakeNvml]) -> None:
    machine([l4()])
    assert advise_runtime(5).gpu.name == "NVIDIA L4"  # type: ignore[union-attr]


def test_a_busy_gpu_is_too_small_and_the_reason_says_by_how_much(
    machine: Callable[..., FakeNvml],
) -> None:
    machine([l4(memory_used=20 * GiB)])
    advice = advise_runtime(5, gpu="auto")
    assert advice.choice != "local-gpu"
    free = (23034 * 1024**2 - 20 * GiB) / 1e9
    (text,) = by_rule(advice, "gpu.too-small")
    assert "NVIDIA L4" in text and f"short by {6.0 - free:.1f} GB" in text


def test_the_gpu_with_most_free_memory_is_checked(machine: Callable[..., FakeNvml]) -> None:
    busy_a100 = FakeGpu(
        name="NVIDIA A100 80GB PCIe", uuid="GPU-a1", memory_total=80 * GiB, memory_used=75 * GiB
    )
    machine([busy_a100, l4(1)])
    advice = advise_runtime(14, gpu="auto")
    assert advice.gpu is not None and advice.gpu.name == "NVIDIA L4"
    assert advice.choice == "local-gpu"
    margin = L4_FREE_GB - advice.needed_gb  # 14 GB of weights need 14 x 1.1 + 0.5 = 15.9 GB
    assert advice.needed_gb == pytest.approx(15.9)
    assert any(
        "NVIDIA L4" in t and f"margin of {margin:.1f} GB" in t for t in by_rule(advice, "gpu.fits")
    )
    # With two GPUs visible the reason says which one was meant.
    assert advice.gpu.label == "GPU 1"
    assert any("NVIDIA L4 (GPU 1)" in t for t in by_rule(advice, "gpu.fits"))


def test_a_mig_instance_is_named(machine: Callable[..., FakeNvml]) -> None:
    machine([a100_mig(0, instances=2)])
    advice = advise_runtime(14, gpu="auto")
    assert any("MIG 3g.20gb" in t for t in by_rule(advice, "gpu.fits"))


def test_hidden_gpus_do_not_count(
    machine: Callable[..., FakeNvml], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine([l4()])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    advice = advise_runtime(5, gpu="auto")
    assert advice.gpu is not None and not advice.gpu.available
    (text,) = by_rule(advice, "gpu.none")
    assert "none is visible" in text


def test_no_driver_is_a_reason_not_an_error(machine: Callable[..., FakeNvml]) -> None:
    import pynvml

    machine([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    advice = advise_runtime(5, gpu="auto")
    assert advice.choice != "local-gpu"
    (text,) = by_rule(advice, "gpu.none")
    assert "driver is installed but not loaded" in text


def test_this_machine_really_has_no_gpu() -> None:
    report = gpu.detect(refresh=True)
    advice = advise_runtime(5, gpu="auto")
    best = report.best_device()
    if best is None:
        (text,) = by_rule(advice, "gpu.none")
        assert report.message in text
    else:
        assert advice.gpu is not None and advice.gpu.name == best.name


def test_the_offload_side_is_the_guides_l4(machine: Callable[..., FakeNvml]) -> None:
    offload = offload_guide().offload_gpu
    assert (offload.name, offload.memory_gb) == ("NVIDIA L4", 23.0)
    machine([l4()])
    too_big = advise_runtime(30, gpu="auto")
    assert any("23 GB" in w and "NVIDIA L4" in w for w in too_big.warnings)
    assert not advise_runtime(20, gpu="auto").warnings


def test_auto_checks_the_fit_against_free_memory_read_now(
    machine: Callable[..., FakeNvml], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labadvisor.gpu import detection

    now = [1000.0]
    monkeypatch.setattr(detection, "_clock", lambda: now[0])
    fake = machine([l4()])
    assert advise_runtime(5, gpu="auto").choice == "local-gpu"
    fake.gpus[0].memory_used = 20 * GiB  # another kernel loaded a model
    now[0] += detection.DEFAULT_MAX_AGE
    advice = advise_runtime(5, gpu="auto")
    assert advice.choice != "local-gpu"
    assert advice.gpu is not None
    assert advice.gpu.free_gb == pytest.approx((23034 * 1024**2 - 20 * GiB) / 1e9)
    assert fake.calls["nvmlDeviceGetCount"] == 1  # read again, not probed again


# --- who holds the memory that would make the model fit (make_room) -------------------------

PROCESS_API = {
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "nvmlDeviceGetComputeRunningProcesses",
}
# A busy L4: 23034 MiB - 20 GiB = 2.7 GB free; a 5 GB model needs 6.0 GB (3.3 GB short).
BUSY = 20 * GiB


@pytest.fixture
def orphan(gpu_device_file: Path) -> Iterator[tuple[int, str]]:
    """A process holding the "GPU" that is not this process's descendant (its shell parent
    has exited): another user's training job, as far as attribution can tell. Yields its
    pid and the label the advice names it by; killed afterwards."""
    shell = subprocess.run(
        ["sh", "-c", 'sleep 60 <"$1" >/dev/null 2>&1 & echo $!', "sh", str(gpu_device_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(shell.stdout)
    me = pwd.getpwuid(os.getuid()).pw_name
    try:
        yield pid, f"process {pid} ({me}: sleep 60)"
    finally:
        os.kill(pid, signal.SIGKILL)


def holders(advice: object) -> list[Reason]:
    return [r for r in advice.reasons if r.rule == "gpu.holders"]  # type: ignore[attr-defined]


def test_a_short_gpu_names_the_holders_that_would_make_it_fit(
    machine: Callable[..., FakeNvml], orphan: tuple[int, str]
) -> None:
    pid, label = orphan
    me = os.getpid()
    # This kernel's 2 GiB would not close the 3.3 GB gap; the other job's 12 GiB would.
    machine(
        [l4(memory_used=BUSY, processes=[FakeProcess(me, 2 * GiB), FakeProcess(pid, 12 * GiB)])]
    )
    advice = advise_runtime(5, gpu="auto")
    assert advice.choice != "local-gpu"
    (reason,) = holders(advice)
    free = (23034 * 1024**2 - BUSY) / 1e9
    assert reason.text == f"6.0 GB needed, {free:.1f} GB free on GPU 0; {label} holds 12.9 GB."
    assert reason.effect == "info" and reason.points_to is None
    assert reason.source.startswith("labadvisor (NVML")
    assert any(r["rule"] == "gpu.holders" for r in advice.to_dict()["reasons"])
    # When no single holder is enough, the fewest that are: the largest, then what closes it.
    machine(
        [l4(memory_used=BUSY, processes=[FakeProcess(me, 2 * GiB), FakeProcess(pid, 3 * GiB // 2)])]
    )
    (reason,) = holders(advise_runtime(5, gpu="auto"))
    assert reason.text.endswith(f"; this kernel holds 2.1 GB and {label} holds 1.6 GB.")


def test_holders_are_named_only_for_a_detected_gpu_that_is_too_small(
    machine: Callable[..., FakeNvml], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine([l4(memory_used=BUSY, processes=[FakeProcess(os.getpid(), 12 * GiB)])])
    calls: list[object] = []
    real = gpu.processes

    def counted(*args: Any, **kwargs: Any) -> gpu.GpuProcesses:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(gpu, "processes", counted)
    assert holders(advise_runtime(5, gpu="auto"))  # short: asked
    assert len(calls) == 1
    assert not holders(advise_runtime(1.5, gpu="auto"))  # it fits: nothing to free
    assert not holders(advise_runtime(5, gpu=2.0))  # a given free memory: not this GPU's
    assert not holders(advise_runtime(5, gpu=None))
    assert len(calls) == 1


@pytest.mark.parametrize("how", ["raises", "no-process-api", "invalid-unit"])
def test_a_failure_reading_processes_just_omits_the_holders(
    machine: Callable[..., FakeNvml], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    processes = [FakeProcess(os.getpid(), 12 * GiB)]
    if how == "no-process-api":
        machine([l4(memory_used=BUSY, processes=processes)], missing=PROCESS_API)
    else:
        machine([l4(memory_used=BUSY, processes=processes)])
    if how == "raises":

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("NVML went away")

        monkeypatch.setattr(gpu, "processes", broken)
    if how == "invalid-unit":
        real = gpu.processes

        def lost(*args: object, **kwargs: object) -> gpu.GpuProcesses:
            found = real()
            units = tuple(replace(u, valid=False, error="GPU is lost") for u in found.devices)
            return replace(found, devices=units)

        monkeypatch.setattr(gpu, "processes", lost)
    advice = advise_runtime(5, gpu="auto")
    assert advice.choice != "local-gpu" and not holders(advice)
    assert any(r.rule == "gpu.too-small" for r in advice.reasons)  # the rest stands


def test_the_holders_are_read_by_the_reader_given(
    machine: Callable[..., FakeNvml], orphan: tuple[int, str]
) -> None:
    # What the Jupyter server passes: its kernel map makes the job a notebook's kernel.
    pid, _ = orphan
    machine([l4(memory_used=BUSY, processes=[FakeProcess(pid, 12 * GiB)])])
    kernel = gpu.KernelInfo("5e0c1a2b-kernel", "python3", "work/train.ipynb")
    calls: list[int] = []

    def server_view() -> gpu.GpuProcesses:
        calls.append(1)
        return gpu.processes({pid: kernel})

    (reason,) = holders(advise_runtime(5, gpu="auto", gpu_processes=server_view))
    assert reason.text.endswith("; notebook work/train.ipynb holds 12.9 GB.")
    assert calls == [1]
    assert not holders(advise_runtime(1.5, gpu="auto", gpu_processes=server_view))  # it fits
    assert calls == [1]


KERNEL_B = "5e1f0c2a-9d7b-4c1e-8f00-bbbbbbbbbbbb"


@pytest.fixture
def other_kernel(gpu_device_file: Path, tmp_path: Path) -> Iterator[int]:
    """A process holding the "GPU" whose command line is another notebook's kernel's
    (``-f .../kernel-<id>.json``), not this process's descendant; its pid, killed after."""
    connection = tmp_path / f"kernel-{KERNEL_B}.json"
    script = 'python3 -c "import time; time.sleep(60)" -f "$2" <"$1" >/dev/null 2>&1 & echo $!'
    shell = subprocess.run(
        ["sh", "-c", script, "sh", str(gpu_device_file), str(connection)],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(shell.stdout)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)


def test_inside_a_kernel_the_advice_names_another_kernels_notebook(
    machine: Callable[..., FakeNvml],
    other_kernel: int,
    runtime_dir: Path,
    fake_jupyter: StartJupyter,
) -> None:
    # No kernel map, as in a notebook: the kernel is known by its command line and its
    # notebook by the Jupyter server's sessions.
    server = fake_jupyter(sessions=[session(KERNEL_B, "work/train.ipynb")])
    server.write_server_file(runtime_dir, os.getppid())
    machine([l4(memory_used=BUSY, processes=[FakeProcess(other_kernel, 12 * GiB)])])
    (reason,) = holders(advise_runtime(5, gpu="auto"))
    assert reason.text.endswith("; notebook work/train.ipynb holds 12.9 GB."), reason.text
    jupyter_kernels.forget()
    server.close()  # no server: the kernel by its id
    (reason,) = holders(advise_runtime(5, gpu="auto"))
    assert reason.text.endswith("; kernel 5e1f0c2a holds 12.9 GB."), reason.text


def test_a_holders_reader_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(ValueError, match=r"gpu_processes must be a function.*'notebooks'"):
        advise_runtime(5, gpu=None, gpu_processes="notebooks")  # type: ignore[arg-type]
