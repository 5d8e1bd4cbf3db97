"""labadvisor/gpu/detection.py: detect() probes once, answers from its cache, and asks again
on refresh or when a visibility variable changes; @pytest.mark.gpu tests need a real GPU."""

from __future__ import annotations

import json
import time

import pynvml
import pytest
from fake_nvml import GiB, a100_mig, l4
from gpu_fixtures import InstallFake, nvml_library_loads

from labadvisor.gpu import detect

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")


# --- once per process, cached -------------------------------------------------------------


def test_cached_detect_calls_no_nvml_and_takes_under_a_millisecond(
    fake_nvml: InstallFake,
) -> None:
    fake = fake_nvml([l4(), a100_mig(1)])
    first = detect()
    calls = sum(fake.calls.values())
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        again = detect()
        timings.append(time.perf_counter() - start)
        assert again is first
    assert sum(fake.calls.values()) == calls
    assert min(timings) < 1e-3 and sorted(timings)[len(timings) // 2] < 1e-3


def test_cached_failure_takes_under_a_millisecond() -> None:
    first = detect(refresh=True)
    assert first.status != "ok" or nvml_library_loads()
    start = time.perf_counter()
    for _ in range(100):
        assert detect() is first
    assert (time.perf_counter() - start) / 100 < 1e-3


def test_refresh_asks_again_without_initialising_again(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4()])
    detect()
    fake.gpus[0].memory_used = 5 * GiB
    assert detect().devices[0].memory_used == 300 * 1024**2  # cached
    assert detect(refresh=True).devices[0].memory_used == 5 * GiB
    assert fake.calls["nvmlInit"] == 1 and fake.initialised == 1


def test_a_failed_init_is_retried_on_refresh(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4()], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert detect().status == "driver-not-loaded"
    detect()
    assert fake.calls["nvmlInit"] == 1
    fake.init_error = None  # e.g. the admin ran modprobe
    assert detect(refresh=True).status == "ok"


def test_changing_a_visibility_variable_makes_the_next_call_look_again(
    fake_nvml: InstallFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_nvml([l4(0), l4(1)])
    assert len(detect().devices) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [d.index for d in detect().devices] == [1]


# --- real hardware ---------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_gpu_detection(real_gpu: None) -> None:
    report = detect(refresh=True)
    print(report)
    assert report.status == "ok", report.message
    assert report.driver_version and report.cuda_driver_version
    major, minor = (int(x) for x in report.cuda_driver_version.split("."))
    assert major >= 10 and 0 <= minor < 100
    for device in report.devices:
        assert device.valid, device.error
        assert device.uuid and device.uuid.startswith("GPU-")
        assert device.memory_total and device.memory_total > 1e9
        assert device.memory_used is not None and device.memory_free is not None
        assert device.memory_used + device.memory_free <= device.memory_total
        assert device.compute_capability and device.compute_capability >= (3, 0)
    best = report.best_device()
    assert best is not None and best.memory_free is not None and best.name
    json.dumps(report.to_dict())
