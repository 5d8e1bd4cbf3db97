"""labadvisor/gpu/detection.py: detect() probes once, answers from its cache, and asks again
on refresh or when a visibility variable changes; @pytest.mark.gpu tests need a real GPU."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import datetime, timezone
from typing import Any

import pynvml
import pytest
from fake_nvml import FakeHandle, FakeNvml, GiB, a100_mig, l4
from gpu_fixtures import InstallBackend, InstallFake, nvml_library_loads

from labadvisor.gpu import detect, detection

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
        again = detect(max_age=60)  # readings younger than max_age are not taken again
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
    assert detect(max_age=math.inf).devices[0].memory_used == 300 * 1024**2  # cached
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


# --- live readings over a cached inventory --------------------------------------------------


class Clock:
    """Stands in for time.monotonic in detection, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(detection, "_clock", fake)
    return fake


INVENTORY_CALLS = ("nvmlDeviceGetCount", "nvmlDeviceGetHandleByIndex", "nvmlDeviceGetUUID")


def test_readings_older_than_max_age_are_taken_again_without_a_new_probe(
    fake_nvml: InstallFake, clock: Clock
) -> None:
    fake = fake_nvml([l4(), a100_mig(1)])
    first = detect()
    inventory = {name: fake.calls[name] for name in INVENTORY_CALLS}
    fake.gpus[0].memory_used = 5 * GiB
    fake.gpus[0].utilization = (93, 40)
    fake.gpus[1].mig[0].memory_used = 2 * GiB
    clock.now += detection.DEFAULT_MAX_AGE / 2
    assert detect() is first  # young enough
    clock.now += detection.DEFAULT_MAX_AGE
    again = detect()
    l4_now, a100_now = again.devices
    assert l4_now.memory_used == 5 * GiB and l4_now.utilization_gpu == 93
    assert l4_now.memory_free == 23034 * 1024**2 - 5 * GiB
    assert a100_now.mig_devices[0].memory_used == 2 * GiB
    assert again.best_device() is a100_now.mig_devices[0]
    assert {name: fake.calls[name] for name in INVENTORY_CALLS} == inventory
    assert again.checked_at == first.checked_at and again.read_at > first.read_at
    assert again.message != first.message  # it names the free memory read now
    assert detect() is again  # and that reading is shared until it is too old


def test_default_max_age_is_well_inside_the_status_bar_poll() -> None:
    assert 0 < detection.DEFAULT_MAX_AGE <= 2  # the status bar polls every 10 s


def test_max_age_zero_always_reads_and_infinity_never(fake_nvml: InstallFake, clock: Clock) -> None:
    fake = fake_nvml([l4()])
    detect()
    reads = fake.calls["nvmlDeviceGetMemoryInfo"]
    detect(max_age=0)
    detect(max_age=0)
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == reads + 2
    clock.now += 10**6
    detect(max_age=math.inf)
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == reads + 2


@pytest.mark.parametrize("max_age", [-1, math.nan, "1", None, True])
def test_bad_max_age_is_refused_by_name(max_age: Any) -> None:
    with pytest.raises(ValueError, match=r"max_age must be .* got"):
        detect(max_age=max_age)


def test_read_at_is_a_utc_timestamp_in_to_dict(fake_nvml: InstallFake) -> None:
    fake_nvml([l4()])
    before = time.time()
    report = detect()
    text = report.to_dict()["read_at"]
    assert isinstance(text, str) and text.endswith("Z")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None and moment.utcoffset() == timezone.utc.utcoffset(None)
    assert before - 0.01 <= moment.timestamp() <= time.time() + 0.01
    json.dumps(report.to_dict())


def test_a_gpu_lost_between_readings_becomes_invalid(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), l4(1)])
    detect()
    fake.gpus[0].lost = True
    lost, healthy = detect(max_age=0).devices
    assert not lost.valid and lost.memory_free is None and lost.error
    assert healthy.valid and healthy.memory_free is not None
    asked = fake.calls["nvmlDeviceGetMemoryInfo"]
    detect(max_age=0)
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == asked + 1  # the lost one is left alone


def test_what_failed_at_the_probe_is_not_asked_again(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([a100_mig(0)])  # no utilization in MIG mode
    report = detect()
    assert "utilization" in report.devices[0].unavailable
    asked = fake.calls["nvmlDeviceGetUtilizationRates"]
    again = detect(max_age=0)
    assert fake.calls["nvmlDeviceGetUtilizationRates"] == asked
    assert (
        again.devices[0].unavailable["utilization"] == report.devices[0].unavailable["utilization"]
    )


def test_memory_that_becomes_sane_again_loses_its_note(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(memory_used=30 * GiB)])
    assert detect().devices[0].notes
    fake.gpus[0].memory_used = GiB
    device = detect(max_age=0).devices[0]
    assert device.notes == () and "memory_free" not in device.unavailable
    assert device.memory_free is not None


class SlowNvml(FakeNvml):
    """Each enumeration and each memory reading takes ``delay`` seconds, as a busy or
    wedged driver does."""

    def __init__(self, *args: Any, delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay

    def nvmlDeviceGetCount(self) -> int:
        time.sleep(self.delay)
        return super().nvmlDeviceGetCount()

    def nvmlDeviceGetMemoryInfo(self, handle: FakeHandle, version: Any = None) -> Any:
        time.sleep(self.delay)
        return super().nvmlDeviceGetMemoryInfo(handle, version)


def in_threads(n: int, call: Any) -> tuple[list[Any], float]:
    """``call()`` in ``n`` threads released at once; their answers and the time taken."""
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers, time.perf_counter() - start


def test_concurrent_refreshes_share_one_probe(nvml_backend: InstallBackend) -> None:
    slow = SlowNvml([l4()], delay=0.4)
    nvml_backend(slow)
    detect()
    probes = slow.calls["nvmlDeviceGetCount"]
    answers, took = in_threads(8, lambda: detect(refresh=True))
    assert slow.calls["nvmlDeviceGetCount"] == probes + 1
    assert all(answer is answers[0] for answer in answers)
    assert answers[0].status == "ok"
    assert took < 8 * 0.4  # not one probe after another (each probe takes > 0.8 s here)


def test_concurrent_stale_readers_share_one_reading(nvml_backend: InstallBackend) -> None:
    slow = SlowNvml([l4()], delay=0.4)
    nvml_backend(slow)
    detect()
    reads = slow.calls["nvmlDeviceGetMemoryInfo"]
    answers, _ = in_threads(8, lambda: detect(max_age=0))
    assert slow.calls["nvmlDeviceGetMemoryInfo"] == reads + 1
    assert all(answer is answers[0] for answer in answers)


def test_a_refresh_while_a_reading_is_in_flight_still_probes(
    nvml_backend: InstallBackend,
) -> None:
    slow = SlowNvml([l4()], delay=0.3)
    nvml_backend(slow)
    first = detect()
    probes = slow.calls["nvmlDeviceGetCount"]
    reader = threading.Thread(target=detect, kwargs={"max_age": 0})
    reader.start()
    time.sleep(0.1)  # the reading is in flight
    refreshed = detect(refresh=True)
    reader.join()
    assert slow.calls["nvmlDeviceGetCount"] == probes + 1
    assert refreshed.checked_at > first.checked_at


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


@pytest.mark.gpu
def test_real_gpu_readings_are_taken_again_over_the_cached_inventory(real_gpu: None) -> None:
    probed = detect(refresh=True)
    start = time.perf_counter()
    for _ in range(20):
        again = detect(max_age=0)
    per_reading = (time.perf_counter() - start) / 20
    print(f"fresh readings over the cached inventory: {per_reading * 1e6:.0f} µs")
    assert again.read_at > probed.read_at and again.checked_at == probed.checked_at
    assert [d.uuid for d in again.devices] == [d.uuid for d in probed.devices]
    for device in again.devices:
        assert device.memory_free is not None and device.memory_total
        assert device.memory_free <= device.memory_total
    assert per_reading < 5e-3
