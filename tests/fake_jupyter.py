"""A stand-in for a Jupyter server's sessions API, for labadvisor.gpu.jupyter_kernels: a tiny
``http.server`` on a thread that answers ``GET <base_url>api/sessions`` as jupyter_server
does (or hangs, or redirects) and records every request it gets, with the server file
(``jpserver-<pid>.json``) that points at it."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    authorization: str | None


@dataclass
class FakeJupyter:
    """One fake server. ``sessions`` is what ``api/sessions`` answers to the right token;
    ``hang`` makes every request wait until :meth:`close`; ``redirect_to`` answers each
    request with a 302 to that URL instead; ``requests`` is what arrived."""

    sessions: list[dict[str, Any]] = field(default_factory=list)
    token: str = "secret-token"
    base_url: str = "/"
    host: str = "127.0.0.1"  # where it listens: "0.0.0.0" reaches it on any address
    hang: bool = False
    redirect_to: str | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._release = threading.Event()
        self._server = ThreadingHTTPServer((self.host, 0), self._handler())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{self.base_url}"

    def write_server_file(
        self,
        runtime_dir: Path,
        pid: int,
        *,
        url: str | None = None,
        hostname: str = "localhost",
        file_name: str | None = None,
    ) -> Path:
        """``jpserver-<pid>.json`` (or ``file_name``) as jupyter_server writes it, pointing
        at this server."""
        path = runtime_dir / (file_name or f"jpserver-{pid}.json")
        info = {
            "base_url": self.base_url,
            "hostname": hostname,
            "password": False,
            "pid": pid,
            "port": self.port,
            "root_dir": str(runtime_dir),
            "secure": False,
            "sock": "",
            "token": self.token,
            "url": self.url() if url is None else url,
            "version": "2.14.2",
        }
        runtime_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info, indent=2))
        os.chmod(path, 0o600)
        return path

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(Request(self.path, self.headers.get("Authorization")))
                if fake.hang:
                    fake._release.wait(30)
                    return
                if fake.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", fake.redirect_to)
                    self.end_headers()
                    return
                if self.headers.get("Authorization") != f"token {fake.token}":
                    self._answer(403, {"message": "Forbidden"})
                elif self.path != f"{fake.base_url}api/sessions":
                    self._answer(404, {"message": "Not found"})
                else:
                    self._answer(200, fake.sessions)

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        return Handler


def session(kernel_id: str, path: str, kernel_name: str = "python3") -> dict[str, Any]:
    """One entry of ``GET api/sessions`` as jupyter_server answers it."""
    return {
        "id": f"session-{kernel_id}",
        "path": path,
        "name": os.path.basename(path),
        "type": "notebook",
        "kernel": {
            "id": kernel_id,
            "name": kernel_name,
            "last_activity": "2026-11-26T21:00:00.000000Z",
            "execution_state": "idle",
            "connections": 1,
        },
        "notebook": {"path": path, "name": os.path.basename(path)},
    }
