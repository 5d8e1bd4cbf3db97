"""The labadvisor server extension's REST API, against a real in-process Jupyter server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pynvml
import pytest
from server_fixtures import LOCAL_CONTEXT, DockerStore
from tornado.httpclient import HTTPClientError, HTTPResponse

API = ("labadvisor", "api")


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"labadvisor": True}}}


async def fetch_json(jp_fetch: Any, *route: str, **kwargs: Any) -> tuple[int, Any]:
    """(status, decoded JSON) of a request; error statuses are returned, not raised."""
    try:
        response: HTTPResponse = await jp_fetch(*API, *route, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None, exc
        response = exc.response
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return response.code, json.loads(response.body)


def post(body: Any) -> dict[str, Any]:
    return {"method": "POST", "body": body if isinstance(body, str) else json.dumps(body)}


# --- GPU -----------------------------------------------------------------------------


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


# --- Docker contexts (real engines) ----------------------------------------------------


def put_name(name: Any) -> dict[str, Any]:
    return {"method": "PUT", "body": json.dumps({"name": name})}


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


# --- advice ---------------------------------------------------------------------------


async def test_runtime_advice_matches_library(jp_fetch: Any) -> None:
    from labadvisor import advise_runtime

    body = {"model_size_gb": 40, "workload": "code-review", "gpu": None}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 200, data
    assert data == json.loads(json.dumps(advise_runtime(**body).to_dict()))
    assert data["choice"] in ("local-cpu", "local-gpu", "offload")
    assert data["reasons"], "advice without reasons"


async def test_runtime_advice_with_params_and_dtype(jp_fetch: Any) -> None:
    body = {"params_b": 7, "dtype": "int4", "gpu": 24, "team_size": 3, "sensitive": True}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 200, data
    assert data["size_gb"] == pytest.approx(3.5)


async def test_deployment_advice_matches_library(jp_fetch: Any) -> None:
    from labadvisor import advise_deployment

    body = {"users": 40, "nodes": 2, "gpu_sharing": "mig", "current": "docker-compose"}
    status, data = await fetch_json(jp_fetch, "advise", "deployment", **post(body))
    assert status == 200, data
    assert data == json.loads(json.dumps(advise_deployment(**body).to_dict()))
    assert data["choice"] == "k3s"
    assert data["migration"] is not None


@pytest.mark.parametrize(
    ("route", "body", "names"),
    [
        # bad values: the library's message names the valid values
        ("runtime", {"model_size_gb": 7, "workload": "juggling"}, ["code-review", "training"]),
        ("runtime", {"params_b": 7, "dtype": "fp8"}, ["fp16", "int4"]),
        ("deployment", {"users": 10, "gpu_sharing": "halves"}, ["mig", "time-slicing"]),
        ("deployment", {"users": 10, "current": "swarm"}, ["docker-compose", "k3s"]),
        ("deployment", {"users": 0}, ["users"]),
        # wrong shape: the handler names the valid fields
        ("runtime", {"model_size_gb": 7, "size": 3}, ["size", "model_size_gb", "params_b"]),
        ("deployment", {"nodes": 2}, ["users"]),
    ],
)
async def test_bad_advice_input_is_400_naming_valid_values(
    jp_fetch: Any, route: str, body: dict[str, Any], names: list[str]
) -> None:
    status, data = await fetch_json(jp_fetch, "advise", route, **post(body))
    assert status == 400, data
    for name in names:
        assert name in data["message"], (name, data["message"])


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"'])
@pytest.mark.parametrize("route", ["runtime", "deployment"])
async def test_body_must_be_a_json_object(jp_fetch: Any, route: str, raw: str) -> None:
    status, data = await fetch_json(jp_fetch, "advise", route, **post(raw))
    assert status == 400, data
    assert "JSON" in data["message"]


async def test_advice_options_are_accepted_by_the_advisers(jp_fetch: Any) -> None:
    """Every choice offered, for every input of both forms, is one the adviser accepts."""
    status, options = await fetch_json(jp_fetch, "advise", "options")
    assert status == 200, options
    base = {"runtime": {"params_b": 1, "gpu": None}, "deployment": {"users": 5}}
    assert set(options) == set(base)
    assert {"dtype", "workload"} <= set(options["runtime"])
    assert {"gpu_sharing", "current", "kubernetes_experience"} <= set(options["deployment"])
    for form, inputs in options.items():
        for name, choices in inputs.items():
            assert choices, (form, name)
            for choice in choices:
                assert set(choice) == {"label", "value"}, choice
                assert isinstance(choice["label"], str) and choice["label"], choice
                body = {**base[form], name: choice["value"]}
                status, data = await fetch_json(jp_fetch, "advise", form, **post(body))
                assert status == 200, (form, name, choice, data)


async def test_advice_options_are_the_library_options(jp_fetch: Any) -> None:
    """The REST choices are labadvisor.options' lists, labels included, not a second copy."""
    from labadvisor.options import deployment_options, runtime_options

    _, options = await fetch_json(jp_fetch, "advise", "options")
    for form, library in (("runtime", runtime_options()), ("deployment", deployment_options())):
        for name, choices in options[form].items():
            assert [(c["label"], c["value"]) for c in choices] == list(library[name])


# --- authentication and XSRF ----------------------------------------------------------

ROUTES = [
    ("GET", ("gpu",), None),
    ("GET", ("contexts",), None),
    ("GET", ("contexts", "current"), None),
    ("PUT", ("contexts", "current"), {"name": "default"}),
    ("POST", ("advise", "runtime"), {"model_size_gb": 7}),
    ("POST", ("advise", "deployment"), {"users": 5}),
    ("GET", ("advise", "options"), None),
]


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
async def test_every_route_needs_a_token(
    jp_fetch: Any, method: str, route: tuple[str, ...], body: Any
) -> None:
    kwargs: dict[str, Any] = {"method": method}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    for auth in ("", "token not-the-token"):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch(*API, *route, headers={"Authorization": auth}, **kwargs)
        assert err.value.code == 403, (auth, err.value)


async def _cookie_session(jp_fetch: Any, jp_serverapp: Any) -> dict[str, str]:
    """Log in through the login form, as a browser does; return its cookies."""
    token = jp_serverapp.identity_provider.token
    first = await jp_fetch("login", headers={"Authorization": ""}, follow_redirects=False)
    cookies = _cookies(first)
    response = await jp_fetch(
        "login",
        method="POST",
        body=f"password={token}&_xsrf={cookies['_xsrf']}",
        headers={"Authorization": "", "Cookie": _cookie_header(cookies)},
        follow_redirects=False,
        raise_error=False,
    )
    assert response.code == 302, response
    cookies.update(_cookies(response))
    assert any(name.startswith("username-") for name in cookies), cookies
    return cookies


def _cookies(response: HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


async def test_cookie_session_writes_need_the_xsrf_header(jp_fetch: Any, jp_serverapp: Any) -> None:
    cookies = await _cookie_session(jp_fetch, jp_serverapp)
    headers = {"Authorization": "", "Cookie": _cookie_header(cookies)}
    body = json.dumps({"users": 5})

    # reads need only the session cookie
    response = await jp_fetch(*API, "advise", "options", headers=headers)
    assert response.code == 200

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "advise", "deployment", method="POST", body=body, headers=headers)
    assert err.value.code == 403
    assert "xsrf" in err.value.response.body.decode().lower()

    wrong = {**headers, "X-XSRFToken": "2|00000000|" + "0" * 32 + "|1"}
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "advise", "deployment", method="POST", body=body, headers=wrong)
    assert err.value.code == 403

    right = {**headers, "X-XSRFToken": cookies["_xsrf"]}
    response = await jp_fetch(*API, "advise", "deployment", method="POST", body=body, headers=right)
    assert response.code == 200
    assert json.loads(response.body)["choice"] == "docker-compose"


@pytest.mark.docker
async def test_cookie_session_context_switch_needs_the_xsrf_header(
    jp_fetch: Any, jp_serverapp: Any, docker_store: DockerStore
) -> None:
    cookies = await _cookie_session(jp_fetch, jp_serverapp)
    headers = {"Authorization": "", "Cookie": _cookie_header(cookies)}
    body = json.dumps({"name": "docker-cloud"})
    before = docker_store.current_in_config()

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "contexts", "current", method="PUT", body=body, headers=headers)
    assert err.value.code == 403
    assert docker_store.current_in_config() == before  # refused, so nothing switched

    right = {**headers, "X-XSRFToken": cookies["_xsrf"]}
    response = await jp_fetch(*API, "contexts", "current", method="PUT", body=body, headers=right)
    assert response.code == 200
    assert docker_store.current_in_config() == "docker-cloud"
