"""advise_runtime(gpu="auto") runs GPU detection (here through the fake NVML) and its
reasons name the GPU it found and the fit margin; the Offload side is the guide's L4."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fake_nvml import FakeGpu, FakeNvml, GiB, a100_mig, l4

from labadvisor import advise_runtime, gpu
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
