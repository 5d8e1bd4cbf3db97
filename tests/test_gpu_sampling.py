"""labadvisor/gpu/sampling.py: Sampler, sample() and watch() read live values through the
handles detection found; @pytest.mark.gpu tests measure the cost on a real GPU."""

from __future__ import annotations

import json
import time

import pytest
from fake_nvml import GiB, a100_mig, l4
from gpu_fixtures import InstallFake

from labadvisor import gpu
from labadvisor.gpu import detect

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")


# --- sampling -------------------------------------------------------------------------------


def test_sampler_reads_live_values_reusing_handles(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), a100_mig(1, instances=1)])
    sampler = gpu.Sampler()
    handles_before = fake.calls["nvmlDeviceGetHandleByIndex"]
    first = sampler.read()
    assert first.status == "ok"
    assert [(s.index, s.mig_index) for s in first.devices] == [(0, None), (1, 0)]
    assert first.devices[0].utilization_gpu == 7
    fake.gpus[0].memory_used = 9 * GiB
    fake.gpus[0].utilization = (88, 40)
    second = sampler.read()
    assert second.devices[0].memory_used == 9 * GiB
    assert second.devices[0].utilization_gpu == 88
    assert fake.calls["nvmlDeviceGetHandleByIndex"] == handles_before
    assert fake.calls["nvmlInit"] == 1
    json.dumps(second.to_dict())


def test_sampler_skips_what_a_device_does_not_support(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([a100_mig(0, instances=1)])
    sampler = gpu.Sampler()
    sampler.read()
    asked = fake.calls["nvmlDeviceGetUtilizationRates"]
    for _ in range(5):
        reading = sampler.read()
    assert fake.calls["nvmlDeviceGetUtilizationRates"] == asked  # MIG: asked once, then skipped
    assert reading.devices[0].utilization_gpu is None
    assert reading.devices[0].memory_total == 19968 * 1024**2


def test_sampler_marks_a_gpu_lost_while_sampling(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), l4(1)])
    sampler = gpu.Sampler()
    fake.gpus[0].lost = True
    reading = sampler.read()
    assert not reading.devices[0].valid and reading.devices[0].error == "GPU is lost"
    assert reading.devices[1].valid
    asked = fake.calls["nvmlDeviceGetMemoryInfo"]
    sampler.read()
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == asked + 1  # only the healthy GPU


@pytest.mark.usefixtures("no_real_gpu")
def test_sampler_without_nvml_returns_the_status() -> None:
    reading = gpu.Sampler().read()
    assert reading.devices == ()
    assert reading.status == detect().status


def test_sampler_follows_a_new_nvml_backend(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0)])
    sampler = gpu.Sampler()
    assert len(sampler.read().devices) == 1
    fake_nvml([l4(0), l4(1)])
    assert len(sampler.read().devices) == 2


def test_sample_shares_one_reading_per_interval(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0)])
    first = gpu.sample(interval=60)
    assert gpu.sample(interval=60) is first
    reads = fake.calls["nvmlDeviceGetMemoryInfo"]
    fresh = gpu.sample(interval=0)
    assert fresh is not first and fake.calls["nvmlDeviceGetMemoryInfo"] == reads + 1


@pytest.mark.parametrize("interval", [-1, float("nan"), float("inf"), "1", True])
def test_sample_rejects_bad_intervals(interval: object) -> None:
    with pytest.raises(ValueError, match="interval"):
        gpu.sample(interval=interval)  # type: ignore[arg-type]


def test_watch_yields_count_readings_at_the_interval(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0)])
    start = time.monotonic()
    readings = list(gpu.Sampler().watch(interval=0.02, count=3))
    elapsed = time.monotonic() - start
    assert len(readings) == 3
    assert 0.04 <= elapsed < 1.0  # two waits between three readings, none after the last
    with pytest.raises(ValueError, match="greater than 0"):
        next(gpu.Sampler().watch(interval=0))


# --- real hardware ---------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_gpu_cached_detect_and_sampling_cost(real_gpu: None) -> None:
    detect(refresh=True)
    start = time.perf_counter()
    for _ in range(100):
        detect()
    assert (time.perf_counter() - start) / 100 < 1e-3
    sampler = gpu.Sampler()
    cpu, wall = time.process_time(), time.monotonic()
    readings = list(sampler.watch(interval=0.5, count=7))
    share = (time.process_time() - cpu) / (time.monotonic() - wall)
    print(f"sampling at 2 Hz used {share:.3%} of a core")
    assert all(r.status == "ok" for r in readings)
    for reading in readings:
        for unit in reading.devices:
            assert unit.memory_total and unit.memory_total > 0
            assert unit.utilization_gpu is None or 0 <= unit.utilization_gpu <= 100
    assert share < 0.02  # 2 Hz here, so under 1% per reading-per-second
