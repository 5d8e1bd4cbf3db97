"""What the labadvisor API accepts and answers: body size, nesting and number limits, strict
JSON out, JSON errors everywhere, short quotes, no bodies in logs; and property tests over
random and hostile REST bodies (never a 500, always strict JSON)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from asyncio import Future
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_client import API, fetch_json, post, server_config, strict_json
from tornado.httpclient import HTTPRequest

from labadvisor.server.limits import MAX_BODY_BYTES, MAX_DEPTH

RUNTIME_FIELDS = [
    "model_size_gb",
    "params_b",
    "dtype",
    "workload",
    "gpu",
    "hours_per_day",
    "team_size",
    "sensitive",
]
DEPLOYMENT_FIELDS = [
    "users",
    "nodes",
    "high_availability",
    "gpu_sharing",
    "kubernetes_experience",
    "current",
]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# --- size ----------------------------------------------------------------------------


async def test_body_over_64_kib_is_413(jp_fetch: Any) -> None:
    body = json.dumps({"model_size_gb": 7, "pad": "x" * MAX_BODY_BYTES})
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 413, data
    assert str(MAX_BODY_BYTES) in data["message"]


async def test_body_just_under_the_limit_is_read(jp_fetch: Any) -> None:
    body = json.dumps({"model_size_gb": 7, "workload": "x" * (MAX_BODY_BYTES - 100)})
    assert len(body) <= MAX_BODY_BYTES
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 400, data  # read and parsed: the adviser names the valid workloads
    assert "code-review" in data["message"]
    assert len(data["message"]) < 2_000, "the 64 KB value came back whole"


async def test_chunked_body_over_the_limit_is_413(
    jp_fetch: Any, jp_http_port: int, jp_base_url: str
) -> None:
    """No Content-Length to go by: the size read decides."""
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    def produce(write: Callable[[bytes], Any]) -> Future[None]:
        async def chunks() -> None:
            for _ in range(20):
                await write(b"[" * 8192)

        return asyncio.ensure_future(chunks())

    client = SimpleAsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            HTTPRequest(
                f"http://localhost:{jp_http_port}{jp_base_url}{'/'.join(API)}/advise/runtime",
                method="POST",
                body_producer=produce,
                headers=await _auth_headers(jp_fetch),
            ),
            raise_error=False,
        )
    finally:
        client.close()
    assert response.code == 413, response.body
    assert "over the limit" in strict_json(response.body)["message"]


async def _auth_headers(jp_fetch: Any) -> dict[str, str]:
    # jp_fetch's request carries the token; read it back off a harmless request.
    response = await jp_fetch(*API, "config")
    return {"Authorization": response.request.headers["Authorization"]}


async def test_oversized_declared_length_is_refused_before_the_body_is_sent(
    jp_fetch: Any, jp_http_port: int, jp_base_url: str
) -> None:
    """A client that announces 100 MB gets its 413 without sending a byte of it."""
    headers = await _auth_headers(jp_fetch)
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    try:
        writer.write(
            (
                f"POST {jp_base_url}{'/'.join(API)}/advise/runtime HTTP/1.1\r\n"
                f"Host: localhost:{jp_http_port}\r\n"
                f"Authorization: {headers['Authorization']}\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: 100000000\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.split(b" ", 2)[1] == b"413", head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answer = strict_json(await asyncio.wait_for(reader.readexactly(length), 5))
        assert "100000000 bytes" in answer["message"]
    finally:
        writer.close()


# --- nesting and numbers -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 30_000])
async def test_nesting_deeper_than_the_limit_is_400(jp_fetch: Any, depth: int) -> None:
    body = '{"model_size_gb": ' + nested(depth - 1) + "}"
    assert len(body) < MAX_BODY_BYTES
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 400, data
    assert f"deeper than {MAX_DEPTH}" in data["message"]


async def test_nesting_100000_deep_is_refused_by_size(jp_fetch: Any) -> None:
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(nested(100_000)))
    assert status == 413, data  # 200 KB of brackets: over the size limit before any parsing


async def test_nesting_at_the_limit_is_parsed(jp_fetch: Any) -> None:
    body = '{"model_size_gb": ' + nested(MAX_DEPTH - 1) + "}"
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 400, data  # the adviser refuses a list, the parser did not
    assert "deeper" not in data["message"]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"model_size_gb": ' + "9" * 400 + "}", "400 digits"),
        ('{"model_size_gb": -' + "9" * 400 + "}", "400 digits"),
        ('{"users": ' + "1" * 5000 + "}", "5000 digits"),
        ('{"model_size_gb": 1e400}', "finite"),
        ('{"model_size_gb": -1e400}', "finite"),
        ('{"model_size_gb": NaN}', "NaN"),
        ('{"model_size_gb": Infinity}', "Infinity"),
        ('{"model_size_gb": -Infinity}', "Infinity"),
    ],
)
async def test_numbers_beyond_float_range_are_400(jp_fetch: Any, raw: str, says: str) -> None:
    route = "deployment" if "users" in raw else "runtime"
    status, data = await fetch_json(jp_fetch, "advise", route, **post(raw))
    assert status == 400, data
    assert says in data["message"]
    assert len(data["message"]) < 300


@pytest.mark.parametrize(
    "body",
    [
        {"model_size_gb": 1.7e308, "gpu": 24},
        {"model_size_gb": 1.7e308, "gpu": 24, "hours_per_day": 24, "team_size": 10**300},
        {"params_b": 1.7e308, "dtype": "fp32", "gpu": 1e308},
        {"model_size_gb": 5e-324, "gpu": 1.7e308},
    ],
)
async def test_inputs_that_would_give_infinity_are_400_or_finite(
    jp_fetch: Any, body: dict[str, Any]
) -> None:
    """Strict JSON out: either finite advice or a 400 saying why (fetch_json refuses NaN and
    Infinity in any answer)."""
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status in (200, 400), data
    if status == 400:
        assert data["message"]


# --- errors are JSON messages, quotes are short, logs carry no bodies ----------------------


@pytest.mark.parametrize(
    ("method", "route"),
    [("DELETE", "gpu"), ("POST", "gpu"), ("PATCH", "contexts/current"), ("GET", "advise/runtime")],
)
async def test_wrong_method_is_a_json_message(jp_fetch: Any, method: str, route: str) -> None:
    kwargs: dict[str, Any] = {"method": method}
    if method in ("POST", "PATCH"):
        kwargs["body"] = "{}"
    status, data = await fetch_json(jp_fetch, *route.split("/"), **kwargs)
    assert status == 405, data
    assert isinstance(data["message"], str) and data["message"]
    assert "Traceback" not in json.dumps(data)


async def test_bug_in_a_handler_is_a_json_message(
    jp_fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labadvisor.server import work

    def broken() -> None:
        raise ZeroDivisionError("deliberate")

    monkeypatch.setattr(work, "advice_options", broken)
    status, data = await fetch_json(jp_fetch, "advise", "options")
    assert status == 500
    assert "ZeroDivisionError" in data["message"]
    assert "Traceback" not in json.dumps(data)


async def test_unknown_field_names_are_quoted_short(jp_fetch: Any) -> None:
    field = "k" * 50_000
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post({field: 1}))
    assert status == 400, data
    assert "50000 characters" in data["message"]
    assert len(data["message"]) < 1_000


async def test_logs_never_carry_the_body(jp_fetch: Any, caplog: pytest.LogCaptureFixture) -> None:
    marker = "secret-" + "z" * 5_000
    caplog.set_level(logging.DEBUG)
    for route, body in (
        ("runtime", {"model_size_gb": 7, "workload": marker}),
        ("runtime", {marker: 1}),
        ("deployment", {"users": marker}),
        ("runtime", {"model_size_gb": 7, "pad": marker * 20}),  # 413
    ):
        status, _ = await fetch_json(jp_fetch, "advise", route, **post(body))
        assert status in (400, 413)
    assert "z" * 200 not in caplog.text


async def test_override_template_error_is_400(
    jp_fetch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's override file whose template names an unknown field: a 400 saying so,
    not a 500."""
    from labadvisor import guides

    override = tmp_path / "labadvisor.toml"
    override.write_text(
        '[compose-vs-k3s.rules.users]\ncompose_text = "{users} users and {no_such_field}"\n'
    )
    monkeypatch.setenv("LABADVISOR_CONFIG", str(override))
    guides._merged.clear()
    try:
        status, data = await fetch_json(jp_fetch, "advise", "deployment", **post({"users": 5}))
    finally:
        monkeypatch.delenv("LABADVISOR_CONFIG")
        guides._merged.clear()
    assert status == 400, data
    assert "no_such_field" in data["message"]


# --- properties: random and hostile bodies ----------------------------------------------

hostile_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.integers(min_value=-(10**400), max_value=-(10**300)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 5e-324, 1.7976931348623157e308, -1.7e308, 2**63, 2**1024]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    hostile_numbers,
    st.text(max_size=50),
    st.sampled_from(["auto", "fp16", "int4", "code-review", "mig", "k3s", "13GB", "1e999"]),
    st.text(min_size=5_000, max_size=20_000).map(lambda s: s or "x"),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def bodies(fields: list[str]) -> st.SearchStrategy[str]:
    """Raw request bodies: objects over the form's fields (and stray ones), with any values,
    hostile numbers included (NaN and Infinity as the non-standard tokens), deep nesting
    and non-objects too."""
    objects = st.dictionaries(
        st.one_of(st.sampled_from(fields), st.text(max_size=20)), json_values, max_size=6
    ).map(lambda body: json.dumps(body, allow_nan=True))
    deep = st.integers(min_value=MAX_DEPTH - 2, max_value=5_000).map(
        lambda depth: json.dumps({fields[0]: 0}).replace("0", nested(depth))
    )
    other = st.one_of(
        json_values.map(lambda value: json.dumps(value, allow_nan=True)),
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
    )
    return st.one_of(objects, objects, deep, other)


class Server:
    """Blocking requests, for hypothesis to drive from a thread."""

    def __init__(self, port: int, base_url: str, headers: dict[str, str]) -> None:
        self.root = f"http://127.0.0.1:{port}{base_url}{'/'.join(API)}/"
        self.headers = {**headers, "Content-Type": "application/json"}

    def send(self, route: str, method: str, body: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.root + route,
            data=body.encode("utf-8", "surrogatepass"),
            method=method,
            headers=self.headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
            assert error.headers["Content-Type"].startswith("application/json"), raw[:200]
        return status, strict_json(raw)


def check_answer(status: int, data: Any) -> None:
    assert status in (200, 400, 413), (status, data)
    assert isinstance(data, dict)
    if status != 200:
        assert isinstance(data["message"], str) and data["message"], data
        assert len(data["message"]) < 3_000, len(data["message"])


PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    ("route", "fields"),
    [("advise/runtime", RUNTIME_FIELDS), ("advise/deployment", DEPLOYMENT_FIELDS)],
)
async def test_advice_bodies_never_give_a_500(
    jp_fetch: Any, jp_http_port: int, jp_base_url: str, route: str, fields: list[str]
) -> None:
    target = Server(jp_http_port, jp_base_url, await _auth_headers(jp_fetch))

    @PROPERTY_SETTINGS
    @given(body=bodies(fields))
    def property_holds(body: str) -> None:
        check_answer(*target.send(route, "POST", body))

    # The server runs on this event loop: send from a thread while the loop serves.
    await asyncio.to_thread(property_holds)


async def test_switch_bodies_never_give_a_500(
    jp_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docker_engines import isolate_docker_env

    isolate_docker_env(monkeypatch, tmp_path)
    target = Server(jp_http_port, jp_base_url, await _auth_headers(jp_fetch))

    @PROPERTY_SETTINGS
    @given(body=bodies(["name"]))
    def property_holds(body: str) -> None:
        status, data = target.send("contexts/current", "PUT", body)
        # an empty store: no name can be switched to, but "local" (default, not checked)
        assert status in (200, 400, 413), (status, data)
        check_answer(status, data)

    await asyncio.to_thread(property_holds)
