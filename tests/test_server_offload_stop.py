"""``POST offload/stop`` through the real docker CLI, with a stand-in ``docker-offload`` plugin
(:mod:`offload_plugin`) that records what it was asked."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from docker_engines import FakeEngine, closed_port, isolate_docker_env, write_context
from offload_plugin import install_offload_plugin, plugin_calls
from server_client import fetch_json, put_name, server_config
from server_fixtures import LOCAL_CONTEXT

POST = {"method": "POST", "body": "{}"}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKER_CONFIG for the server and the docker CLI it runs."""
    if shutil.which("docker") is None:
        if os.environ.get("LABADVISOR_REQUIRE_DOCKER") == "1":
            pytest.fail("LABADVISOR_REQUIRE_DOCKER=1 but there is no docker CLI (docker.io)")
        pytest.skip("no docker CLI (docker.io)")
    return isolate_docker_env(monkeypatch, tmp_path / "home")


def current_in_config(store_dir: Path) -> str | None:
    return json.loads((store_dir / "config.json").read_text()).get("currentContext")


async def on_offload(jp_fetch: Any, store_dir: Path, local_host: str) -> None:
    """The server's context is docker-cloud (checked against a live stand-in engine)."""
    write_context(store_dir, LOCAL_CONTEXT, local_host)
    with FakeEngine(name="offload-engine") as offload:
        write_context(store_dir, "docker-cloud", offload.host)
        status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("offload"))
    assert (status, data["current"]["name"]) == (200, "docker-cloud"), data


async def test_stop_ends_the_session_and_leaves_the_server_local(
    jp_fetch: Any, store_dir: Path
) -> None:
    with FakeEngine(name="local-engine") as local:
        await on_offload(jp_fetch, store_dir, local.host)
        made = install_offload_plugin(store_dir)
        status, data = await fetch_json(jp_fetch, "offload", "stop", **POST)
    assert status == 200, data
    assert "stop" in plugin_calls(made)
    assert data["offload"]["state"] == "stopped" and data["offload"]["billable"] is False
    assert data["current"]["name"] == LOCAL_CONTEXT and data["current"]["role"] == "local"
    assert current_in_config(store_dir) == LOCAL_CONTEXT
    assert data["summary"] == f"Docker Offload is stopped; Docker context: {LOCAL_CONTEXT}"
    # the meter reads the state the stop left, not the last sampled one
    status, usage = await fetch_json(jp_fetch, "usage")
    assert status == 200, usage
    assert usage["offload"]["state"] == "stopped", usage["offload"]


async def test_stop_without_the_plugin_is_409_and_changes_nothing(
    jp_fetch: Any, store_dir: Path
) -> None:
    await on_offload(jp_fetch, store_dir, f"tcp://127.0.0.1:{closed_port()}")
    status, data = await fetch_json(jp_fetch, "offload", "stop", **POST)
    assert status == 409, data
    assert "`docker offload` CLI plugin was not found" in data["message"]
    assert current_in_config(store_dir) == "docker-cloud"


async def test_stop_takes_no_fields(jp_fetch: Any, store_dir: Path) -> None:
    made = install_offload_plugin(store_dir)
    body = {"method": "POST", "body": json.dumps({"force": True})}
    status, data = await fetch_json(jp_fetch, "offload", "stop", **body)
    assert status == 400, data
    assert "takes no fields" in data["message"]
    assert plugin_calls(made) == []


class TestSwitchingTurnedOff:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return server_config(LabAdvisor={"allow_context_switch": False})

    async def test_stop_is_403_and_runs_nothing(self, jp_fetch: Any, store_dir: Path) -> None:
        made = install_offload_plugin(store_dir)
        status, data = await fetch_json(jp_fetch, "offload", "stop", **POST)
        assert status == 403, data
        assert "allow_context_switch" in data["message"]
        assert plugin_calls(made) == []
