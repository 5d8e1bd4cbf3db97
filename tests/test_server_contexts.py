"""The labadvisor API's Docker context routes, against real dockerd engines."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from server_client import fetch_json, put_name, server_config
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
