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


class WideClient:
    """An HTTP client to the test server that keeps many requests in flight at once
    (``jp_fetch``'s shared client sends at most 10), and times each."""

    def __init__(self, port: int, base_url: str, headers: dict[str, str]) -> None:
        from tornado.simple_httpclient import SimpleAsyncHTTPClient

        self.root = f"http://localhost:{port}{base_url}{'/'.join(API)}/"
        self.headers = headers
        self.client = SimpleAsyncHTTPClient(force_instance=True, max_clients=200)

    async def fetch(
        self, route: str, method: str = "GET", body: Any = None
    ) -> tuple[int, Any, float]:
        """(status, strict JSON answer, seconds taken)."""
        import time

        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        started = time.perf_counter()
        response = await self.client.fetch(
            self.root + route,
            method=method,
            body=data,
            headers=self.headers,
            raise_error=False,
            request_timeout=120,
        )
        took = time.perf_counter() - started
        assert response.code != 599, response.error  # no answer at all
        return response.code, strict_json(response.body), took

    def close(self) -> None:
        self.client.close()


class SilentEngine:
    """A TCP endpoint that accepts connections and never answers: a hung Docker engine."""

    def __init__(self) -> None:
        import socket
        import threading

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.host = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[Any] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)  # held open, never read or answered

    def close(self) -> None:
        import contextlib
        import socket

        with contextlib.suppress(OSError):  # wakes the accept() of the thread
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()


class NotebookKernel:
    """A real kernel the test server started for a notebook session (``POST api/sessions``,
    as JupyterLab opens a notebook), and a client to run code in it."""

    def __init__(self, serverapp: Any, session: dict[str, Any]) -> None:
        self.session = session
        self.kernel_id: str = session["kernel"]["id"]
        self.path: str = session["path"]
        self.manager = serverapp.kernel_manager.get_kernel(self.kernel_id)
        self.client = self.manager.client()

    @classmethod
    async def open(cls, jp_fetch: Any, serverapp: Any, path: str) -> NotebookKernel:
        body = {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}}
        response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
        assert response.code == 201, response.body
        kernel = cls(serverapp, json.loads(response.body))
        kernel.client.start_channels()
        await kernel.client.wait_for_ready(timeout=120)
        return kernel

    @property
    def pid(self) -> int:
        pid = self.manager.provisioner.pid
        assert isinstance(pid, int), pid
        return pid

    async def run(self, code: str) -> str:
        """Run ``code``; its stdout. A Python error in the kernel fails the test."""
        out: list[str] = []

        def hook(message: dict[str, Any]) -> None:
            if message["msg_type"] == "stream":
                out.append(message["content"]["text"])

        reply = await self.client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()
