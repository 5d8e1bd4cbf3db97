"""Who may use the labadvisor API: tokens, cookie sessions with XSRF, and permissions."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from typing import Any

import pytest
from server_client import API, server_config
from server_fixtures import DockerStore
from tornado.httpclient import HTTPClientError, HTTPResponse


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config()


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
