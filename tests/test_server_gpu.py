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
