"""Who may use the labadvisor API: tokens, cookie sessions with XSRF, and permissions."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, ClassVar

import pytest
from docker_engines import isolate_docker_env
from jupyter_server.auth.authorizer import Authorizer
from server_client import API, fetch_json, server_config
from server_fixtures import DockerStore
from tornado.httpclient import HTTPClientError, HTTPResponse

from labadvisor.server.handlers import ROUTES as SERVED_ROUTES


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


ROUTES = [
    ("GET", ("gpu",), None),
    ("GET", ("gpu", "processes"), None),
    ("GET", ("usage",), None),
    ("GET", ("config",), None),
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
    assert err.value.response is not None
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


# --- permissions: route x method x allow/deny, as jupyter_server's own test_authorizer.py ---


class PermissionsAuthorizer(Authorizer):
    """Allows on the "labadvisor" resource exactly the actions in ``allowed`` (set by each
    test), and records what it was asked; other resources are allowed."""

    allowed: ClassVar[set[str]] = set()
    asked: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        if resource != "labadvisor":
            return True
        self.asked.append((action, resource))
        return action in self.allowed


# (method, route, body, the action it needs, its status when allowed, in an empty store)
MATRIX = [
    ("GET", "gpu", None, "read", 200),
    ("GET", "gpu/processes", None, "read", 200),
    ("GET", "usage", None, "read", 200),
    ("GET", "config", None, "read", 200),
    ("GET", "contexts", None, "read", 200),
    ("GET", "contexts/current", None, "read", 200),
    ("PUT", "contexts/current", {"name": "nope"}, "write", 400),
    # a field it does not take: refused before `docker offload stop` would run
    ("POST", "offload/stop", {"force": True}, "write", 400),
    ("POST", "advise/runtime", {"model_size_gb": 7}, "read", 200),
    ("POST", "advise/deployment", {"users": 5}, "read", 200),
    ("GET", "advise/options", None, "read", 200),
]
PERMISSIONS = [set(), {"read"}, {"write"}, {"read", "write"}, {"execute"}]


class TestAuthorizerMatrix:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return server_config(ServerApp={"authorizer_class": PermissionsAuthorizer})

    @pytest.fixture
    def permissions(self) -> Iterator[type[PermissionsAuthorizer]]:
        yield PermissionsAuthorizer
        PermissionsAuthorizer.allowed = set()
        PermissionsAuthorizer.asked = []

    def test_the_matrix_covers_every_route(self) -> None:
        assert {route for _, route, *_ in MATRIX} == {route for route, _ in SERVED_ROUTES}

    @pytest.mark.parametrize(
        ("method", "route", "body", "action", "allowed_status", "granted"),
        [(*row, granted) for row, granted in itertools.product(MATRIX, PERMISSIONS)],
        ids=[
            f"{row[0]} {row[1]} with {'+'.join(sorted(granted)) or 'nothing'}"
            for row, granted in itertools.product(MATRIX, PERMISSIONS)
        ],
    )
    async def test_route_needs_its_action(
        self,
        jp_fetch: Any,
        permissions: type[PermissionsAuthorizer],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        method: str,
        route: str,
        body: Any,
        action: str,
        allowed_status: int,
        granted: set[str],
    ) -> None:
        isolate_docker_env(monkeypatch, tmp_path)
        permissions.allowed = granted
        kwargs: dict[str, Any] = {"method": method}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        status, data = await fetch_json(jp_fetch, *route.split("/"), **kwargs)
        assert permissions.asked == [(action, "labadvisor")]
        if action in granted:
            assert status == allowed_status, data
        else:
            assert status == 403, data
            assert action in data["message"] and "labadvisor" in data["message"], data
