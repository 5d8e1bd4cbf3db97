"""The labadvisor API's Docker context routes, against real dockerd engines."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_engines import FakeEngine, closed_port, isolate_docker_env, write_context
from server_client import SilentEngine, WideClient, fetch_json, put_name, server_config
from server_fixtures import LOCAL_CONTEXT, DockerStore


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


@pytest.mark.docker
async def test_contexts_lists_the_store(jp_fetch: Any, docker_store: DockerStore) -> None:
    status, data = await fetch_json(jp_fetch, "contexts")
    assert status == 200, data
    roles = {c["name"]: c["role"] for c in data["contexts"]}
    assert roles == {"default": "local", LOCAL_CONTEXT: "local", "docker-cloud": "offload"}
    hosts = {c["name"]: c["host"] for c in data["contexts"]}
    assert hosts["docker-cloud"] == docker_store.engines.offload_host
    assert data["current"]["name"] == "default"
    assert [c["name"] for c in data["contexts"] if c["current"]] == ["default"]


@pytest.mark.docker
@pytest.mark.parametrize(
    ("target", "expected", "role"),
    [
        ("offload", "docker-cloud", "offload"),
        ("docker-cloud", "docker-cloud", "offload"),
        ("local", LOCAL_CONTEXT, "local"),
    ],
)
async def test_put_current_switches_like_docker_context_use(
    jp_fetch: Any, docker_store: DockerStore, target: str, expected: str, role: str
) -> None:
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name(target))
    assert status == 200, data
    assert (data["current"]["name"], data["current"]["role"]) == (expected, role)
    assert data["switch"]["scope"] == "global"
    assert data["switch"]["checked"] is True
    assert expected in data["summary"]
    # written where the docker CLI looks, and the CLI agrees
    assert docker_store.current_in_config() == expected
    assert docker_store.docker("context", "inspect", "--format", "{{.Name}}").strip() == expected
    # and a later GET sees it
    _, again = await fetch_json(jp_fetch, "contexts")
    assert again["current"]["name"] == expected


@pytest.mark.docker
async def test_put_current_round_trip(jp_fetch: Any, docker_store: DockerStore) -> None:
    for target, expected in (("offload", "docker-cloud"), ("local", LOCAL_CONTEXT)):
        status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name(target))
        assert (status, data["current"]["name"]) == (200, expected), data
    _, current = await fetch_json(jp_fetch, "contexts", "current")
    assert current["name"] == LOCAL_CONTEXT


@pytest.mark.docker
@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"name": "nope"}, ["nope", "docker-cloud", LOCAL_CONTEXT, "offload"]),
        ({"name": "bad name!"}, ["docker-cloud", "local"]),
        ({"name": ""}, ["docker-cloud", "local"]),
        ({"name": 3}, ["docker-cloud", "local"]),
        ({}, ["docker-cloud", "local"]),
        ({"name": "offload", "scope": "kernel"}, ["scope"]),
    ],
)
async def test_put_current_bad_input_is_400_naming_valid_targets(
    jp_fetch: Any, docker_store: DockerStore, body: dict[str, Any], names: list[str]
) -> None:
    status, data = await fetch_json(
        jp_fetch, "contexts", "current", method="PUT", body=json.dumps(body)
    )
    assert status == 400, data
    for name in names:
        assert name in data["message"], (name, data["message"])
    assert docker_store.current_in_config() is None


@pytest.mark.docker
async def test_put_current_unreachable_engine_is_502_and_changes_nothing(
    jp_fetch: Any, docker_store: DockerStore
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    docker_store.add_context("gone", f"tcp://127.0.0.1:{port}")
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("gone"))
    assert status == 502, data
    assert f"127.0.0.1:{port}" in data["message"]
    assert "nothing was changed" in data["message"]
    assert docker_store.current_in_config() is None
    _, current = await fetch_json(jp_fetch, "contexts", "current")
    assert current["name"] == "default"


@pytest.mark.docker
async def test_engine_ping_does_not_block_the_server(
    jp_fetch: Any, docker_store: DockerStore
) -> None:
    """An engine that accepts but never answers: the switch waits for its timeout in a
    worker thread while the server keeps answering other requests."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        docker_store.add_context("silent", f"tcp://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        switch = asyncio.ensure_future(
            fetch_json(jp_fetch, "contexts", "current", **put_name("silent"))
        )
        await asyncio.sleep(0.2)
        status, _ = await fetch_json(jp_fetch, "contexts")
        answered = time.monotonic() - started
        assert status == 200
        assert not switch.done()
        assert answered < 1.5, f"the server was blocked for {answered:.2f}s"
        status, data = await switch
    assert status == 502, data
    assert docker_store.current_in_config() is None


async def test_broken_store_is_an_error_message_not_a_traceback(
    jp_fetch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{not json")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    status, data = await fetch_json(jp_fetch, "contexts")
    assert status == 500, data
    assert "config.json" in data["message"]
    assert "Traceback" not in data["message"]
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("offload"))
    assert status == 500, data
    assert "config.json" in data["message"]


# --- a hung engine, leaving Offload, the operator's switch (no dockerd needed) ----------


@pytest.fixture
def silent_engine() -> Iterator[SilentEngine]:
    engine = SilentEngine()
    yield engine
    engine.close()


@pytest.fixture
def wide_client(
    jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]
) -> Iterator[WideClient]:
    client = WideClient(jp_http_port, jp_base_url, jp_auth_header)
    yield client
    client.close()


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private context store (DOCKER_CONFIG) with no DOCKER_* variables set."""
    return isolate_docker_env(monkeypatch, tmp_path / "home")


def current_in_config(config_dir: Path) -> str | None:
    path = config_dir / "config.json"
    return json.loads(path.read_text()).get("currentContext") if path.exists() else None


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


async def test_hung_engine_switches_do_not_delay_other_routes(
    jp_fetch: Any,
    wide_client: WideClient,
    silent_engine: SilentEngine,
    store_dir: Path,
    nvml_backend: Callable[[Any], None],
) -> None:
    """24 PUT switches to an engine that accepts and never answers, all in flight: GET gpu
    and POST advise/runtime still answer in under 200 ms at p99."""
    from fake_nvml import FakeGpu, FakeNvml

    nvml_backend(FakeNvml([FakeGpu()]))
    write_context(store_dir, "hung", silent_engine.host)
    advice = {"model_size_gb": 7, "gpu": 24}
    for _ in range(3):  # warm: imports, the GPU probe, connections
        await wide_client.fetch("gpu")
        await wide_client.fetch("advise/runtime", "POST", advice)

    switches = [
        asyncio.ensure_future(wide_client.fetch("contexts/current", "PUT", {"name": "hung"}))
        for _ in range(24)
    ]
    await asyncio.sleep(0.5)
    assert len(silent_engine.accepted) >= 8, "the switches are not talking to the engine yet"
    gpu_times: list[float] = []
    advice_times: list[float] = []
    for _ in range(40):
        (status, data, took), (a_status, a_data, a_took) = await asyncio.gather(
            wide_client.fetch("gpu"), wide_client.fetch("advise/runtime", "POST", advice)
        )
        assert (status, a_status) == (200, 200), (data, a_data)
        gpu_times.append(took)
        advice_times.append(a_took)
    assert not all(s.done() for s in switches), "the hung switches ended before the check"
    assert p99(gpu_times) < 0.2, f"GET gpu p99 {p99(gpu_times) * 1e3:.0f} ms"
    assert p99(advice_times) < 0.2, f"POST advise/runtime p99 {p99(advice_times) * 1e3:.0f} ms"

    # the way back does not queue behind the hung checks either
    write_context(store_dir, LOCAL_CONTEXT, f"tcp://127.0.0.1:{closed_port()}")
    status, data, took = await wide_client.fetch("contexts/current", "PUT", {"name": "local"})
    assert (status, data["current"]["name"]) == (200, LOCAL_CONTEXT), data
    assert took < 2.5, f"leaving Offload took {took:.2f}s behind the hung switches"
    assert not all(s.done() for s in switches)

    answers = await asyncio.gather(*switches)
    assert {status for status, _, _ in answers} <= {502, 503}, answers[0]
    for status, data, _ in answers:
        if status == 502:
            assert "nothing was changed" in data["message"], data
        else:
            assert "busy" in data["message"], data
    assert current_in_config(store_dir) == LOCAL_CONTEXT  # the refused switches changed nothing


@pytest.mark.parametrize("target", ["local", LOCAL_CONTEXT])
@pytest.mark.parametrize("engine", ["silent", "down"])
async def test_leaving_offload_does_not_wait_for_the_local_engine(
    jp_fetch: Any, silent_engine: SilentEngine, store_dir: Path, engine: str, target: str
) -> None:
    """Offload is current and the local engine hangs or is down: "local" still switches,
    promptly, and says the engine did not answer."""
    host = silent_engine.host if engine == "silent" else f"tcp://127.0.0.1:{closed_port()}"
    write_context(store_dir, LOCAL_CONTEXT, host)
    with FakeEngine(name="offload-engine") as offload:
        write_context(store_dir, "docker-cloud", offload.host)
        status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("offload"))
        assert (status, data["current"]["name"]) == (200, "docker-cloud"), data
    started = time.monotonic()
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name(target))
    took = time.monotonic() - started
    assert status == 200, data
    assert data["current"]["name"] == LOCAL_CONTEXT
    assert current_in_config(store_dir) == LOCAL_CONTEXT
    assert "did not answer" in data["switch"]["note"], data["switch"]
    assert data["switch"]["engine_error"], data["switch"]
    assert "did not answer" in data["summary"]
    assert took < 2.5, f"leaving Offload took {took:.2f}s"


async def test_already_local_with_a_down_engine_does_not_say_it_switched(
    jp_fetch: Any, store_dir: Path
) -> None:
    """Already on the local context, its engine down: nothing switched, so the note says only
    that the engine did not answer."""
    write_context(store_dir, LOCAL_CONTEXT, f"tcp://127.0.0.1:{closed_port()}")
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("local"))
    assert (status, data["current"]["name"]) == (200, LOCAL_CONTEXT), data
    assert "switched anyway" in data["switch"]["note"], data["switch"]  # this one did switch
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("local"))
    assert status == 200, data
    assert data["switch"]["changed"] is False, data["switch"]
    assert "nothing changed" in data["summary"], data["summary"]
    assert "did not answer" in data["switch"]["note"], data["switch"]
    assert "did not answer" in data["summary"]
    assert "switched anyway" not in data["summary"], data["summary"]
    assert current_in_config(store_dir) == LOCAL_CONTEXT


async def test_leaving_offload_reports_a_live_local_engine(jp_fetch: Any, store_dir: Path) -> None:
    with FakeEngine(name="local-engine") as local:
        write_context(store_dir, LOCAL_CONTEXT, local.host)
        status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("local"))
    assert status == 200, data
    assert data["switch"]["checked"] is True
    assert data["switch"]["round_trip_ms"] >= 0
    assert not data["switch"]["note"]
    assert current_in_config(store_dir) == LOCAL_CONTEXT


@pytest.mark.parametrize("host", ["tcp://[::1", "tcp://127.0.0.1:99999", "bogus://x"])
async def test_unparseable_engine_host_is_an_error_message(
    jp_fetch: Any, store_dir: Path, host: str
) -> None:
    write_context(store_dir, "odd", host)
    status, listed = await fetch_json(jp_fetch, "contexts")
    assert status == 200, listed
    assert "odd" in {c["name"] for c in listed["contexts"]}
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("odd"))
    assert status in (400, 502), data
    assert "odd" in data["message"]
    assert current_in_config(store_dir) is None


async def test_huge_context_name_is_quoted_short(jp_fetch: Any, store_dir: Path) -> None:
    name = "x" * 60_000
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name(name))
    assert status == 400, data
    assert len(data["message"]) < 2_000, len(data["message"])
    assert "60000 characters" in data["message"]


class TestSwitchingTurnedOff:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return server_config(LabAdvisor={"allow_context_switch": False})

    async def test_put_is_403_naming_the_operator(self, jp_fetch: Any, store_dir: Path) -> None:
        write_context(store_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
        status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("offload"))
        assert status == 403, data
        assert "operator" in data["message"]
        assert "allow_context_switch" in data["message"]
        assert current_in_config(store_dir) is None

    async def test_the_flag_is_readable(self, jp_fetch: Any, store_dir: Path) -> None:
        status, config = await fetch_json(jp_fetch, "config")
        assert (status, config) == (200, {"allow_context_switch": False})
        status, listed = await fetch_json(jp_fetch, "contexts")
        assert (status, listed["allow_context_switch"]) == (200, False)


async def test_switching_is_on_by_default(jp_fetch: Any, store_dir: Path) -> None:
    status, config = await fetch_json(jp_fetch, "config")
    assert (status, config) == (200, {"allow_context_switch": True})
