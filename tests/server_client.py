"""Requests to the labadvisor API of an in-process Jupyter server (pytest-jupyter's
``jp_fetch``), read as strict JSON: an answer holding NaN or Infinity fails the test."""

from __future__ import annotations

import json
from typing import Any

from tornado.httpclient import HTTPClientError, HTTPResponse

API = ("labadvisor", "api")


def server_config(**sections: dict[str, Any]) -> dict[str, Any]:
    """A fresh ``jp_server_config`` that loads the extension, plus the given sections
    (``LabAdvisor={...}``, ``ServerApp={...}`` merged into its ServerApp section)."""
    config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"labadvisor": True}}}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


def strict_json(raw: bytes | str) -> Any:
    """``json.loads`` as a browser's ``JSON.parse`` reads: NaN and Infinity are errors."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"the answer holds {name}, which JSON.parse rejects: {raw[:300]!r}")

    return json.loads(raw, parse_constant=refuse)


async def fetch_json(jp_fetch: Any, *route: str, **kwargs: Any) -> tuple[int, Any]:
    """(status, decoded JSON) of a request; error statuses are returned, not raised."""
    try:
        response: HTTPResponse = await jp_fetch(*API, *route, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None, exc
        response = exc.response
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return response.code, strict_json(response.body)


def post(body: Any) -> dict[str, Any]:
    return {"method": "POST", "body": body if isinstance(body, (str, bytes)) else json.dumps(body)}


def put_name(name: Any) -> dict[str, Any]:
    return {"method": "PUT", "body": json.dumps({"name": name})}
