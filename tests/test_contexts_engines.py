"""labadvisor.contexts against two real Docker engines (see docker_engines.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from docker_engines import DockerEngines, HostileEngine, isolate_docker_env

from labadvisor import contexts
from labadvisor.contexts import kernel_env

pytestmark = pytest.mark.docker

# A config.json as the docker CLI lays it out, with keys unrelated to contexts.
REALISTIC_CONFIG = {
    "auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}},
    "psFormat": "table {{.Names}}",
    "credsStore": "desktop",
    "proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "localhost"}},
    "plugins": {"-x-cli-hints": {"enabled": "true"}, "offload": {"telemetry": "off"}},
}


def tab_json(data: object) -> bytes:
    return json.dumps(data, indent="\t").encode()


@pytest.fixture
def lab(
    docker_engines: DockerEngines, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> DockerEngines:
    """A kernel-like process environment: a private copy of the store, "default" = local."""
    docker_engines.copy_config(isolate_docker_env(monkeypatch, tmp_path))
    monkeypatch.setenv("DOCKER_HOST", docker_engines.local_host)
    return docker_engines


def config_path() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def cli(engines: DockerEngines, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [engines.docker_cli, *args],
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_engine_info_tells_the_engines_apart_and_finds_the_nvidia_runtime(
    lab: DockerEngines,
) -> None:
    local = contexts.engine_info("local")
    offload = contexts.engine_info("offload")
    assert (local.context, local.role, local.host) == ("default", "local", lab.local_host)
    assert (offload.context, offload.role) == ("docker-cloud", "offload")
    assert local.reachable and offload.reachable
    assert (local.engine_id, offload.engine_id) == (lab.local_id, lab.offload_id)
    assert not local.gpu and local.gpu_sources == ()
    assert offload.gpu and offload.gpu_sources == ("runtime nvidia",)
    assert "nvidia" in offload.runtimes
    for info in (local, offload):
        assert info.server_version and info.server_version.startswith("20.10")
        assert info.os_type == "linux" and info.cpus and info.cpus >= 1
        assert info.memory_bytes and info.memory_bytes > 2**26
        assert info.round_trip_ms is not None and 0 < info.round_trip_ms < 3000
    payload = json.loads(json.dumps(offload.to_dict()))
    assert payload["gpu_sources"] == ["runtime nvidia"] and payload["reachable"] is True
    assert "docker-cloud" in repr(offload) and "GPU: runtime nvidia" in repr(offload)
    assert "runtime nvidia" in offload._repr_html_()


def test_kernel_switch_moves_client_cli_and_docker_py_but_not_config(lab: DockerEngines) -> None:
    config_path().write_bytes(tab_json(REALISTIC_CONFIG))
    before_bytes, before_mtime = config_path().read_bytes(), config_path().stat().st_mtime_ns
    assert contexts.client().info()["ID"] == lab.local_id
    assert cli(lab, "info", "--format", "{{.ID}}") == lab.local_id

    result = contexts.use("offload")

    assert (result.context, result.scope, result.changed, result.checked) == (
        "docker-cloud",
        "kernel",
        True,
        True,
    )
    assert result.previous == "default" and result.docker_host_set_aside == lab.local_host
    assert os.environ["DOCKER_CONTEXT"] == "docker-cloud" and "DOCKER_HOST" not in os.environ
    current = contexts.current()
    assert (current.name, current.source, current.role) == (
        "docker-cloud",
        "DOCKER_CONTEXT",
        "offload",
    )

    via_client, via_cli = f"la-client-{uuid.uuid4().hex[:8]}", f"la-cli-{uuid.uuid4().hex[:8]}"
    docker_client = contexts.client()
    assert docker_client.info()["ID"] == lab.offload_id
    docker_client.containers.run(lab.image, ["true"], name=via_client, network_mode="none")
    # A `docker` subprocess inherits this process's environment, like `!docker` in a notebook.
    cli(lab, "run", "--name", via_cli, "--network", "none", lab.image, "true")
    offload_names, local_names = (
        lab.container_names(lab.offload_host),
        lab.container_names(lab.local_host),
    )
    assert {via_client, via_cli} <= offload_names
    assert not {via_client, via_cli} & local_names
    assert cli(lab, "info", "--format", "{{.ID}}") == lab.offload_id
    path_docker = shutil.which("docker")
    if path_docker and os.path.realpath(path_docker) != os.path.realpath(lab.docker_cli):
        # The docker a notebook's `!docker` finds first on PATH follows as well.
        out = subprocess.run(
            [path_docker, "info", "--format", "{{.ID}}"], capture_output=True, text=True, timeout=60
        )
        assert out.stdout.strip() == lab.offload_id, out.stderr
    import docker

    assert docker.from_env().info()["ID"] == lab.offload_id
    docker_client.containers.get(via_client).remove()
    docker_client.containers.get(via_cli).remove()

    back = contexts.use("local")

    assert (back.context, back.previous) == ("default", "docker-cloud")
    assert os.environ["DOCKER_HOST"] == lab.local_host and "DOCKER_CONTEXT" not in os.environ
    assert contexts.client().info()["ID"] == lab.local_id
    assert cli(lab, "info", "--format", "{{.ID}}") == lab.local_id
    assert config_path().read_bytes() == before_bytes
    assert config_path().stat().st_mtime_ns == before_mtime


def _clis(engines_cli: str) -> list[str]:
    found = [engines_cli]
    on_path = shutil.which("docker")
    if on_path and os.path.realpath(on_path) != os.path.realpath(engines_cli):
        found.append(on_path)
    return found


@pytest.mark.parametrize("which", ["engines' docker", "docker on PATH"])
def test_global_switch_leaves_the_same_config_as_docker_context_use(
    lab: DockerEngines, tmp_path: Path, which: str
) -> None:
    clis = _clis(lab.docker_cli)
    if which == "docker on PATH" and len(clis) < 2:
        pytest.skip("no second docker CLI on PATH")
    docker_cli = clis[0] if which == "engines' docker" else clis[1]
    ours = Path(os.environ["DOCKER_CONFIG"])
    theirs = lab.copy_config(tmp_path / "cli-docker")
    for directory in (ours, theirs):
        (directory / "config.json").write_bytes(tab_json(REALISTIC_CONFIG))
        (directory / "config.json").chmod(0o640)
    env_before = dict(os.environ)
    cli_env = {**os.environ, "DOCKER_CONFIG": str(theirs)}

    for role, name in (("offload", "docker-cloud"), ("local", "default")):
        result = contexts.use(role, scope="global")
        subprocess.run(
            [docker_cli, "context", "use", name],
            env=cli_env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert result.scope == "global" and result.changed and result.context == name
        ours_bytes = (ours / "config.json").read_bytes()
        assert json.loads(ours_bytes) == json.loads((theirs / "config.json").read_bytes())
        assert (ours / "config.json").stat().st_mode & 0o777 == 0o640
        data = json.loads(ours_bytes)
        assert data.get("currentContext") == (None if name == "default" else name)
        assert {k: v for k, v in data.items() if k != "currentContext"} == REALISTIC_CONFIG
    assert dict(os.environ) == env_before  # global scope leaves this kernel alone
    assert sorted(p.name for p in ours.iterdir()) == ["config.json", "config.json.lock", "contexts"]


def test_global_switch_notes_that_this_kernel_is_overridden(lab: DockerEngines) -> None:
    result = contexts.use("offload", scope="global")
    assert result.note and "DOCKER_HOST" in result.note
    assert contexts.current().name == "default"  # DOCKER_HOST still decides for this kernel
    assert contexts.engine_info().engine_id == lab.local_id


def test_using_restores_kernel_and_global_state_on_error(lab: DockerEngines) -> None:
    config_path().write_bytes(tab_json(REALISTIC_CONFIG))
    original = config_path().read_bytes()
    env_before = {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")}

    with pytest.raises(RuntimeError, match="inside"), contexts.using("offload") as switched:
        assert switched.context == "docker-cloud"
        assert contexts.client().info()["ID"] == lab.offload_id
        with contexts.using("local"):
            assert contexts.client().info()["ID"] == lab.local_id
        assert contexts.client().info()["ID"] == lab.offload_id
        raise RuntimeError("inside")
    assert {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")} == env_before
    assert kernel_env.set_aside() == {}
    assert contexts.client().info()["ID"] == lab.local_id

    with pytest.raises(RuntimeError), contexts.using("offload", scope="global"):
        assert json.loads(config_path().read_bytes())["currentContext"] == "docker-cloud"
        raise RuntimeError("inside")
    assert config_path().read_bytes() == original


def test_eight_processes_switching_globally_at_once(lab: DockerEngines) -> None:
    config_path().write_bytes(tab_json(REALISTIC_CONFIG))
    targets = [f"lab-{i}" for i in range(8)]
    for i, name in enumerate(targets):
        host = lab.local_host if i % 2 else lab.offload_host
        cli(lab, "context", "create", name, "--docker", f"host={host}")
    start_at = time.time() + 2.0  # every process imports first, then all write together
    script = textwrap.dedent(
        """
        import sys, time
        from labadvisor.contexts import use
        target, start_at = sys.argv[1], float(sys.argv[2])
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(15):
            use(target, scope="global", check=True, timeout=10)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, name, str(start_at)], stderr=subprocess.PIPE, text=True
        )
        for name in targets
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
    data = json.loads(config_path().read_bytes())
    assert data["currentContext"] in targets
    assert {k: v for k, v in data.items() if k != "currentContext"} == REALISTIC_CONFIG
    leftovers = {p.name for p in config_path().parent.iterdir()}
    assert leftovers == {"config.json", "config.json.lock", "contexts"}


def test_switches_between_real_engines_are_not_held_up_by_hostile_ones(
    lab: DockerEngines, hostile_engine: Callable[..., HostileEngine]
) -> None:
    """Twelve checks stuck on hostile endpoints at once; real switches keep their pace, and
    every hostile check ends by its deadline."""
    config = Path(os.environ["DOCKER_CONFIG"])
    kinds = ["silent"] * 5 + ["drip"] * 5 + ["killed"] * 2
    for i, kind in enumerate(kinds):
        cli(lab, "context", "create", f"hostile-{i}", "--docker",
            f"host={hostile_engine(kind).host}")  # fmt: skip
    failures: list[tuple[float, BaseException | None]] = []

    def check(name: str) -> None:
        began = time.monotonic()
        try:
            contexts.use(name, timeout=2)
        except contexts.EngineUnreachableError as exc:
            failures.append((time.monotonic() - began, exc))
        else:
            failures.append((time.monotonic() - began, None))

    threads = [threading.Thread(target=check, args=(f"hostile-{i}",)) for i in range(len(kinds))]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # all of them waiting on their engines now
    for role, engine_id in (("offload", lab.offload_id), ("local", lab.local_id)):
        began = time.monotonic()
        result = contexts.use(role, timeout=2)
        assert time.monotonic() - began < 1.0 and result.engine_error is None
        assert contexts.client().info()["ID"] == engine_id
    for thread in threads:
        thread.join(timeout=10)
    assert len(failures) == len(kinds)
    assert all(error is not None and elapsed < 2.5 for elapsed, error in failures), failures
    assert not (config / "config.json").exists()  # kernel scope: nothing written


def test_leaving_offload_with_the_local_engine_gone(lab: DockerEngines, tmp_path: Path) -> None:
    """Docker Desktop quit while the kernel was on Offload: "local" still switches back."""
    cli(lab, "context", "create", "desktop-linux", "--docker",
        f"host=unix://{tmp_path}/desktop.sock")  # fmt: skip
    assert contexts.use("offload").round_trip_ms is not None
    assert contexts.client().info()["ID"] == lab.offload_id
    for scope in ("kernel", "global"):
        result = contexts.use("local", scope=scope)  # type: ignore[arg-type]
        assert result.context == "desktop-linux" and result.round_trip_ms is None
        assert result.engine_error == f"no socket at {tmp_path}/desktop.sock"
    assert contexts.current().name == "desktop-linux"
    assert json.loads(config_path().read_bytes())["currentContext"] == "desktop-linux"
    # The real docker CLI agrees that the switch happened (and fails the way the note says).
    done = subprocess.run([lab.docker_cli, "ps"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "desktop.sock" in done.stderr
