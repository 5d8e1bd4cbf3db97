"""`make lab`'s server: its terminals and its notebooks find the `labadvisor` command.

The server is started through scripts/lab_server.sh, as `make lab` starts it, from an
environment whose PATH does not hold the venv (a shell where the venv was never activated),
with its output going to a file, not a terminal (as under a process manager or a browser
test). Then a terminal is opened through the REST API and driven over its websocket, and a
notebook kernel runs ``!labadvisor``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from local_servers import free_port, serving

REPO = Path(__file__).resolve().parents[1]
LAB_SERVER = REPO / "scripts" / "lab_server.sh"
VENV_BIN = Path(sys.executable).parent
# What PATH holds in a fresh shell of this machine: no venv on it.
PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Server:
    url: str
    token: str

    def post(self, route: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.url + route,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def websocket_url(self, route: str) -> str:
        return self.url.replace("http://", "ws://", 1) + route + f"?token={self.token}"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    assert (VENV_BIN / "labadvisor").exists(), f"no labadvisor command in {VENV_BIN}"
    # Else the command could be found without the venv, and the test could not fail.
    assert shutil.which("labadvisor", path=PLAIN_PATH) is None
    root = tmp_path_factory.mktemp("lab-command")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("JUPYTER_")
    }
    env.update(
        PATH=PLAIN_PATH,
        SHELL="/bin/bash",
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
    )
    port, token = free_port(), uuid.uuid4().hex
    command = [
        str(LAB_SERVER),
        str(VENV_BIN),
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as `make lab` adds it for root
    log = root / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}/", token)

    def status() -> object:
        return urllib.request.urlopen(server.url + "api/status?token=" + token, timeout=5)

    with serving(process, log, status, "the lab server"):
        yield server


async def _read_until(url: str, send: list[str], done: re.Pattern[str], kind: str) -> str:
    """Send ``send`` over the websocket at ``url``; collect the text of the messages until
    ``done`` matches it. ``kind``: "terminal" (terminado's ["stdout", text] messages) or
    "kernel" (Jupyter messages; stream output)."""
    from tornado.websocket import websocket_connect

    socket_ = await websocket_connect(url)
    try:
        for message in send:
            await socket_.write_message(message)
        seen = ""
        deadline = time.monotonic() + 60
        while not done.search(seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no match for {done.pattern!r} in 60 s; got:\n{seen}")
            raw = await asyncio.wait_for(socket_.read_message(), remaining)
            if raw is None:
                raise AssertionError(f"the websocket closed; got:\n{seen}")
            message = json.loads(raw)
            if kind == "terminal" and message[0] == "stdout":
                seen += message[1]
            elif kind == "kernel" and message.get("msg_type") in ("stream", "error"):
                content = message["content"]
                seen += content.get("text") or "\n".join(content.get("traceback", []))
        return seen
    finally:
        socket_.close()


def test_a_terminal_of_the_make_lab_server_finds_labadvisor(lab_server: Server) -> None:
    name = lab_server.post("api/terminals", {})["name"]
    # What the shell prints, not what it echoes: the echo shows "$(" and "$((", unexpanded.
    typed = (
        'echo "LA=$(command -v labadvisor)"; labadvisor --help >/dev/null && echo "RAN-$((6*7))"'
    )
    seen = asyncio.run(
        _read_until(
            lab_server.websocket_url(f"terminals/websocket/{name}"),
            [json.dumps(["stdin", typed + "\r"])],
            re.compile(r"RAN-42|LA=\s*$", re.MULTILINE),
            "terminal",
        )
    )
    assert f"LA={VENV_BIN / 'labadvisor'}" in seen, seen
    assert "RAN-42" in seen, seen


def test_a_notebook_of_the_make_lab_server_runs_labadvisor(lab_server: Server) -> None:
    kernel = lab_server.post("api/kernels", {"name": "python3"})["id"]
    code = (
        "import shutil\n"
        "print('LA=' + str(shutil.which('labadvisor')))\n"
        "!labadvisor --help >/dev/null && echo RAN-{6*7}\n"
    )
    session = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "session": session,
            "username": "test",
            "version": "5.3",
            "date": "2024-01-01T00:00:00Z",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
    }
    seen = asyncio.run(
        _read_until(
            lab_server.websocket_url(f"api/kernels/{kernel}/channels"),
            [json.dumps(request)],
            re.compile(r"RAN-42|Error|not found"),
            "kernel",
        )
    )
    assert f"LA={VENV_BIN / 'labadvisor'}" in seen, seen
    assert "RAN-42" in seen, seen
