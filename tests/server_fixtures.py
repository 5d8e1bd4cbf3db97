"""A Docker context store laid out as on a Docker Desktop machine with Offload started.

``desktop-linux`` (local) and ``docker-cloud`` (offload) point at the two real test engines
of :mod:`docker_engines`; no DOCKER_HOST or DOCKER_CONTEXT is set, so config.json decides,
as for a user who runs ``docker context use``. The ``docker_store`` fixture points this
process (and so an in-process Jupyter server) at a private copy of it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_engines import DockerEngines

LOCAL_CONTEXT = "desktop-linux"


@dataclass(frozen=True)
class DockerStore:
    config_dir: Path
    engines: DockerEngines

    def current_in_config(self) -> str | None:
        """currentContext as written in config.json (None when unset or no file)."""
        path = self.config_dir / "config.json"
        if not path.exists():
            return None
        return json.loads(path.read_text()).get("currentContext")

    def docker(self, *args: str) -> str:
        """Run the real docker CLI against this store; its stdout."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = str(self.config_dir)
        done = subprocess.run(
            [self.engines.docker_cli, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def add_context(self, name: str, host: str) -> None:
        self.docker("context", "create", name, "--docker", f"host={host}")

    def env(self) -> dict[str, str]:
        return {"DOCKER_CONFIG": str(self.config_dir)}


def make_store(engines: DockerEngines, destination: Path) -> DockerStore:
    store = DockerStore(engines.copy_config(destination), engines)
    store.add_context(LOCAL_CONTEXT, engines.local_host)
    return store


@pytest.fixture
def docker_store(
    docker_engines: DockerEngines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DockerStore]:
    store = make_store(docker_engines, tmp_path / "docker-config")
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(store.config_dir))
    yield store
