"""The labadvisor API's GPU route, against a real in-process Jupyter server and a fake NVML."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pynvml
import pytest
from server_client import fetch_json, server_config


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


@pytest.fixture
def nvml(nvml_backend: Callable[[Any], None]) -> Callable[[Any], None]:
    """Swap labadvisor.gpu's NVML for a fake one; the real one comes back afterwards."""
    return nvml_backend


async def test_gpu_is_the_library_report(jp_fetch: Any) -> None:
    """Whatever this machine has (on a CPU-only machine: the no-GPU path)."""
    from labadvisor import gpu

    status, data = await fetch_json(jp_fetch, "gpu")
    assert status == 200, data
    library = json.loads(json.dumps(gpu.detect().to_dict()))
    # the answer says when its readings were taken; the rest is the library's report
    assert isinstance(data.pop("read_at"), str)
    library.pop("read_at", None)
    assert data == library
    assert data["status"] in gpu.STATUSES
    if data["status"] != "ok":
        assert data["devices"] == []
        assert data["message"]


async def test_gpu_with_a_device(jp_fetch: Any, nvml: Callable[[Any], None]) -> None:
    from fake_nvml import FakeGpu, FakeNvml, GiB

    nvml(FakeNvml([FakeGpu(name="NVIDIA L4", memory_total=24 * GiB, memory_used=4 * GiB)]))
    status, data = await fetch_json(jp_fetch, "gpu")
    assert status == 200, data
    assert data["status"] == "ok"
    (device,) = data["devices"]
    assert device["name"] == "NVIDIA L4"
    assert (device["memory_total"], device["memory_free"]) == (24 * GiB, 20 * GiB)


@pytest.mark.parametrize(
    ("fake", "expected"),
    [
        ({}, "no-devices"),
        ({"init_error": pynvml.NVML_ERROR_DRIVER_NOT_LOADED}, "driver-not-loaded"),
        ({"init_error": pynvml.NVML_ERROR_LIBRARY_NOT_FOUND}, "library-not-found"),
    ],
)
async def test_gpu_without_a_device(
    jp_fetch: Any, nvml: Callable[[Any], None], fake: dict[str, Any], expected: str
) -> None:
    from fake_nvml import FakeNvml

    nvml(FakeNvml([], **fake))
    status, data = await fetch_json(jp_fetch, "gpu")
    assert status == 200, data
    assert (data["status"], data["devices"]) == (expected, [])
    assert data["message"]


async def test_gpu_refresh_asks_again(jp_fetch: Any, nvml: Callable[[Any], None]) -> None:
    from fake_nvml import FakeGpu, FakeNvml, GiB

    fake = FakeNvml([FakeGpu(memory_total=24 * GiB, memory_used=1 * GiB)])
    nvml(fake)
    _, first = await fetch_json(jp_fetch, "gpu")
    fake.gpus[0].memory_used = 10 * GiB
    _, cached = await fetch_json(jp_fetch, "gpu")
    _, fresh = await fetch_json(jp_fetch, "gpu", params={"refresh": "1"})
    assert first["devices"][0]["memory_free"] == cached["devices"][0]["memory_free"] == 23 * GiB
    assert fresh["devices"][0]["memory_free"] == 14 * GiB


@pytest.mark.parametrize("value", ["banana", "", "2"])
async def test_gpu_refresh_must_be_a_flag(jp_fetch: Any, value: str) -> None:
    status, data = await fetch_json(jp_fetch, "gpu", params={"refresh": value})
    assert status == 400
    assert repr(value) in data["message"]
    for valid in ("0", "1", "true", "false", "yes", "no"):
        assert valid in data["message"]


async def test_slow_gpu_probe_does_not_block_the_server(
    jp_fetch: Any, nvml: Callable[[Any], None]
) -> None:
    """NVML runs in a worker thread: other requests are answered while it is busy."""
    from fake_nvml import FakeGpu, FakeNvml

    class SlowNvml(FakeNvml):
        def nvmlInit(self) -> None:
            time.sleep(1.5)
            super().nvmlInit()

    nvml(SlowNvml([FakeGpu()]))
    started = time.monotonic()
    probe = asyncio.ensure_future(fetch_json(jp_fetch, "gpu"))
    await asyncio.sleep(0.1)
    status, _ = await fetch_json(jp_fetch, "advise", "options")
    answered = time.monotonic() - started
    assert status == 200
    assert not probe.done()
    assert answered < 1.0, f"the server was blocked for {answered:.2f}s"
    status, data = await probe
    assert (status, data["status"]) == (200, "ok")


async def test_gpu_readings_are_live(
    jp_fetch: Any, nvml: Callable[[Any], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory and utilization are read again once the last reading is a second old, well
    inside the status bar's 10 s poll; the answer says when it was read."""
    from datetime import datetime, timezone

    from fake_nvml import FakeGpu, FakeNvml, GiB

    from labadvisor.gpu import detection

    now = [1000.0]
    monkeypatch.setattr(detection, "_clock", lambda: now[0])
    fake = FakeNvml([FakeGpu(memory_total=24 * GiB, memory_used=1 * GiB, utilization=(5, 1))])
    nvml(fake)
    _, first = await fetch_json(jp_fetch, "gpu")
    fake.gpus[0].memory_used = 10 * GiB
    fake.gpus[0].utilization = (90, 40)
    now[0] += detection.DEFAULT_MAX_AGE + 0.01
    _, later = await fetch_json(jp_fetch, "gpu")
    assert first["devices"][0]["memory_free"] == 23 * GiB
    (device,) = later["devices"]
    assert (device["memory_free"], device["utilization_gpu"]) == (14 * GiB, 90)
    assert fake.calls["nvmlDeviceGetCount"] == 1, "the inventory is cached, not re-probed"
    read_at = datetime.fromisoformat(later["read_at"].replace("Z", "+00:00"))
    age = (datetime.now(timezone.utc) - read_at).total_seconds()
    assert 0 <= age < 10, later["read_at"]


async def test_concurrent_refreshes_share_one_nvml_probe(
    jp_fetch: Any, nvml: Callable[[Any], None]
) -> None:
    """8 ``gpu?refresh=1`` at once against an NVML that takes 0.5 s to enumerate: one probe
    answers them all, in about the time of one."""
    from fake_nvml import FakeGpu, FakeNvml

    class SlowNvml(FakeNvml):
        def nvmlDeviceGetCount(self) -> int:
            time.sleep(0.5)
            return super().nvmlDeviceGetCount()

    fake = SlowNvml([FakeGpu()])
    nvml(fake)
    started = time.monotonic()
    answers = await asyncio.gather(
        *(fetch_json(jp_fetch, "gpu", params={"refresh": "1"}) for _ in range(8))
    )
    took = time.monotonic() - started
    assert [status for status, _ in answers] == [200] * 8
    assert {data["devices"][0]["name"] for _, data in answers} == {"NVIDIA L4"}
    assert fake.calls["nvmlDeviceGetCount"] == 1, fake.calls
    assert took < 1.5, f"8 concurrent refreshes took {took:.2f}s"
