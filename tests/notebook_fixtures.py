"""Fixtures for the notebook panels and the magic: a sandboxed Docker context store, tiny fake
Docker engines on unix sockets and a fake ``docker`` CLI with or without the offload plugin
(the fake NVIDIA L4, ``fake_l4``, is in gpu_fixtures.py). None of them needs root or a real
engine; the machine's ~/.docker and /var/run/docker.sock are never read or written.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docker_engines import FakeEngine, write_context

OFFLOAD_CONTEXT = "docker-cloud"

# A `docker` stand-in. Only `docker offload status|start|stop` are known; anything else (and
# every offload command when the plugin is "missing") fails as the real CLI does.
_FAKE_DOCKER = """#!/bin/sh
here=$(dirname "$0")
if [ ! -f "$here/offload-plugin" ] || [ "$1" != offload ]; then
  echo "docker: '$1' is not a docker command." >&2
  echo "See 'docker --help'" >&2
  exit 1
fi
sleep "$(cat "$here/offload-delay" 2>/dev/null || echo 0)"
case "$2" in
  status) echo "State: $(cat "$here/offload-state" 2>/dev/null || echo stopped)"
          [ -f "$here/offload-state" ] && echo "GPU: NVIDIA L4" ;;
  start)  echo running > "$here/offload-state"; echo "$*" >> "$here/offload-calls" ;;
  stop)   rm -f "$here/offload-state"; echo "$*" >> "$here/offload-calls" ;;
  *)      echo "unknown offload command $2" >&2; exit 1 ;;
esac
"""


@dataclass
class DockerSandbox:
    config_dir: Path
    socket_dir: Path
    bin_dir: Path
    _engines: list[FakeEngine] = field(default_factory=list)

    @property
    def missing_host(self) -> str:
        """A unix:// host where nothing listens."""
        return f"unix://{self.socket_dir / 'no-engine.sock'}"

    def add_context(self, name: str, host: str, description: str | None = None) -> None:
        write_context(self.config_dir, name, host, description)

    def engine(self, name: str, *, gpu: bool = False, delay: float = 0.0) -> FakeEngine:
        engine = FakeEngine(
            unix_path=self.socket_dir / f"{name}.sock", name=name, gpu=gpu, delay=delay
        )
        self._engines.append(engine)
        return engine

    def offload_plugin(self, *, installed: bool = True, delay: float = 0.0) -> None:
        plugin = self.bin_dir / "offload-plugin"
        if installed:
            plugin.touch()
            (self.bin_dir / "offload-delay").write_text(str(delay))
        else:
            plugin.unlink(missing_ok=True)

    @property
    def offload_calls(self) -> list[str]:
        calls = self.bin_dir / "offload-calls"
        return calls.read_text().splitlines() if calls.exists() else []

    def config_json(self) -> dict[str, object] | None:
        path = self.config_dir / "config.json"
        return json.loads(path.read_text()) if path.exists() else None

    def close(self) -> None:
        for engine in self._engines:
            engine.close()


@pytest.fixture
def docker_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DockerSandbox]:
    """A private DOCKER_CONFIG with a ``docker-cloud`` context whose engine does not exist,
    DOCKER_HOST pointing at a socket nobody listens on, and a fake ``docker`` first on PATH
    (offload plugin missing until ``offload_plugin()``). Kernel-scope switches made by the
    test are undone afterwards."""
    from labadvisor.contexts import kernel_env

    config = tmp_path / "docker-config"
    config.mkdir()
    # unix socket paths must stay under 108 bytes; tmp_path can be longer.
    socket_dir = Path(tempfile.mkdtemp(prefix="la-nb-", dir="/tmp"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(_FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    sandbox = DockerSandbox(config, socket_dir, bin_dir)
    monkeypatch.setenv("DOCKER_HOST", sandbox.missing_host)
    sandbox.add_context(OFFLOAD_CONTEXT, f"unix://{socket_dir / 'cloud.sock'}", "Docker Offload")
    saved = kernel_env.snapshot()
    try:
        yield sandbox
    finally:
        kernel_env.restore(saved)
        sandbox.close()
        shutil.rmtree(socket_dir, ignore_errors=True)
