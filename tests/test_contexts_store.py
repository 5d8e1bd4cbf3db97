"""Reading the context store and writing config.json, compared with the real docker CLI.

The CLIs: /usr/bin/docker (Debian's docker.io, the one `make test` installs) and, when it is a
different program, the `docker` first on PATH (what a notebook's `!docker` runs). Tests that
compare with a CLI are run for each of them; missing ones are skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docker_engines import isolate_docker_env, write_context

from labadvisor import contexts
from labadvisor.contexts import store
from labadvisor.contexts.resolve import role_of

ENGINES_CLI = "/usr/bin/docker"


def _available_clis() -> list[str]:
    found = [ENGINES_CLI] if os.access(ENGINES_CLI, os.X_OK) else []
    on_path = shutil.which("docker")
    if on_path and all(os.path.realpath(on_path) != os.path.realpath(c) for c in found):
        found.append(on_path)
    return found


CLIS = _available_clis()
needs_cli = pytest.mark.skipif(not CLIS, reason="no docker CLI (Debian package docker.io)")
cli_params = pytest.mark.parametrize("docker_cli", CLIS or ["(none)"])


@pytest.fixture
def config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_docker_env(monkeypatch, tmp_path)


def run_cli(docker_cli: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [docker_cli, *args],
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes, to prove that nothing changed."""
    return {
        str(p.relative_to(directory)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(directory.rglob("*"))
    }


def docker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")}


# --- reading the store ------------------------------------------------------------------------


@needs_cli
@cli_params
def test_contexts_written_by_the_cli_read_back_with_every_field(
    config_dir: Path, docker_cli: str
) -> None:
    run_cli(docker_cli, "context", "create", "docker-cloud", "--description", "Docker Offload",
            "--docker", "host=tcp://127.0.0.1:2999")  # fmt: skip
    run_cli(docker_cli, "context", "create", "plain", "--docker", "host=unix:///tmp/x.sock")
    ours = config_dir.parent / "ours"
    write_context(ours, "docker-cloud", "tcp://127.0.0.1:2999", "Docker Offload")
    write_context(ours, "plain", "unix:///tmp/x.sock")
    # Our helper writes exactly what the CLI writes, so other tests may use it.
    assert snapshot(ours / "contexts") == snapshot(config_dir / "contexts")
    listed = {info.name: info for info in contexts.list_contexts()}
    assert list(listed) == ["default", "docker-cloud", "plain"]
    assert listed["docker-cloud"].to_dict() == {
        "name": "docker-cloud",
        "host": "tcp://127.0.0.1:2999",
        "description": "Docker Offload",
        "tls": False,
        "current": False,
        "role": "offload",
    }
    assert listed["plain"].role == "local" and listed["default"].current


@needs_cli
@cli_params
@pytest.mark.parametrize(
    "situation", ["nothing set", "DOCKER_CONTEXT", "currentContext", "DOCKER_HOST", "both vars"]
)
def test_list_matches_docker_context_ls(config_dir: Path, docker_cli: str, situation: str) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999", "Docker Offload")
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    write_context(config_dir, "far", "ssh://me@far.example.com")
    if situation in ("DOCKER_CONTEXT", "both vars"):
        os.environ["DOCKER_CONTEXT"] = "plain"
    if situation == "currentContext":
        (config_dir / "config.json").write_text('{"currentContext": "far"}')
    if situation in ("DOCKER_HOST", "both vars"):
        os.environ["DOCKER_HOST"] = "tcp://10.0.0.9:2375"
    out = run_cli(docker_cli, "context", "ls", "--format", "{{json .}}")
    theirs = [json.loads(line) for line in out.splitlines() if line.strip()]
    ours = contexts.list_contexts()
    assert [(c.name, c.host, c.description, c.current) for c in ours] == [
        (t["Name"], t["DockerEndpoint"], t["Description"], t["Current"]) for t in theirs
    ]
    assert json.loads(json.dumps(ours.to_list()))[0]["name"] == "default"
    assert "<table>" in ours._repr_html_()


@needs_cli
@cli_params
@pytest.mark.parametrize(
    ("flags", "env", "config_current"),
    [
        ((), {}, None),
        ((), {}, "plain"),
        ((), {"DOCKER_CONTEXT": "docker-cloud"}, "plain"),
        ((), {"DOCKER_HOST": "tcp://10.0.0.9:2375", "DOCKER_CONTEXT": "plain"}, "plain"),
        (("--context", "plain"), {"DOCKER_HOST": "tcp://10.0.0.9:2375"}, None),
        (("-H", "tcp://10.0.0.8:2375"), {"DOCKER_CONTEXT": "plain"}, "docker-cloud"),
        ((), {"DOCKER_CONTEXT": "missing"}, None),
    ],
)
def test_precedence_matches_the_cli(
    config_dir: Path, docker_cli: str, flags: tuple[str, ...], env: dict, config_current: str
) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    if config_current:
        (config_dir / "config.json").write_text(json.dumps({"currentContext": config_current}))
    os.environ.update(env)
    theirs = cli_current_context(docker_cli, flags)
    context_flag = flags[1] if flags[:1] == ("--context",) else None
    host_flag = flags[1] if flags[:1] == ("-H",) else None
    ours = contexts.resolve.resolve(
        environ=os.environ, directory=config_dir, context_flag=context_flag, host_flag=host_flag
    )
    assert ours.name == theirs
    if not flags:
        now = contexts.current()
        assert (now.name, now.source) == (ours.name, ours.source)
        assert now.exists == (ours.name != "missing")
        if not now.exists:
            assert "no such context exists" in now.reason
        json.dumps(now.to_dict())


def cli_current_context(docker_cli: str, flags: tuple[str, ...]) -> str:
    """The CLI's own answer: `context show` where it exists (CLI 23+), else the `ls` mark."""
    run = [docker_cli, *flags, "context"]
    show = subprocess.run([*run, "show"], capture_output=True, text=True, timeout=60)
    if show.returncode == 0:
        return show.stdout.strip()
    listing = subprocess.run(
        [*run, "ls", "--format", "{{if .Current}}{{.Name}}{{end}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if listing.returncode and "does not exist" in listing.stderr:
        # Old CLIs refuse to list when the selected context is missing; the name is in the error.
        return listing.stderr.split('"')[1]
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.strip()


def test_current_explains_each_source(config_dir: Path) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    now = contexts.current()
    assert (now.name, now.source, now.host) == ("default", "default", store.DEFAULT_HOST)
    (config_dir / "config.json").write_text('{"currentContext": "plain"}')
    now = contexts.current()
    assert (now.source, now.role) == ("config.json", "local")
    assert str(config_dir / "config.json") in now.reason
    os.environ["DOCKER_CONTEXT"] = "default"
    assert contexts.current().source == "DOCKER_CONTEXT"
    os.environ["DOCKER_HOST"] = "tcp://10.1.1.1:2375"
    now = contexts.current()
    assert (now.name, now.host, now.source) == ("default", "tcp://10.1.1.1:2375", "DOCKER_HOST")
    assert "overriding DOCKER_CONTEXT=default" in now.reason
    assert "DOCKER_HOST" in repr(now) and "<table>" in now._repr_html_()


@pytest.mark.parametrize(
    ("name", "host", "role"),
    [
        ("docker-cloud", "tcp://127.0.0.1:2999", "offload"),
        ("cloud-2", "unix:///Users/me/.docker/cloud/docker-cloud.sock", "offload"),
        ("default", "tcp://10.0.0.1:2375", "local"),
        ("desktop-linux", "unix:///Users/me/.docker/run/docker.sock", "local"),
        ("rootless", "unix:///run/user/1000/docker.sock", "local"),
        ("build-box", "tcp://10.0.0.1:2376", "remote"),
        ("far", "ssh://me@far.example.com", "remote"),
        ("kube-only", None, "remote"),
    ],
)
def test_roles(name: str, host: str | None, role: str) -> None:
    assert role_of(name, host) == role


def test_tls_material_in_the_store_is_found(config_dir: Path) -> None:
    write_context(config_dir, "secure", "tcp://10.0.0.1:2376")
    tls_dir = config_dir / "contexts" / "tls" / store.context_id("secure") / "docker"
    tls_dir.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls_dir / name).write_text("x")
    stored = store.read_meta("secure", config_dir)
    assert stored is not None and stored.tls
    assert stored.tls_files == {n: str(tls_dir / n) for n in ("ca.pem", "cert.pem", "key.pem")}
    assert {c.name: c.tls for c in contexts.list_contexts()} == {"default": False, "secure": True}


# --- writing config.json like `docker context use` ---------------------------------------------

# Keys both CLIs know, deliberately out of the CLI's order, compact, with characters Go escapes.
# Our file keeps this order; the CLI re-encodes in its own, so the two are compared as JSON.
SHUFFLED = {
    "aliases": {"builder": "buildx"},
    "plugins": {"z-plugin": {"b": "1", "a": "2"}, "a-plugin": {"x": "y"}},
    "cliPluginsExtraDirs": ["/b", "/a"],
    "proxies": {"default": {"noProxy": "localhost", "httpProxy": "http://p:3128"}},
    "credHelpers": {"z.io": "pass", "a.io": "secretservice"},
    "psFormat": "table {{.ID}}",
    "HttpHeaders": {"X-Z": "1", "X-A": "<&> \u2028 é"},
    "auths": {
        "b.io": {"auth": "dXNlcjpwYXNz"},
        "a.io": {"email": "me@example.com", "auth": "dXNlcjpwYXNz"},
    },
}


@needs_cli
@cli_params
@pytest.mark.parametrize(
    "start",
    [
        pytest.param(None, id="no config.json"),
        pytest.param(b"", id="empty file"),
        pytest.param(json.dumps(SHUFFLED).encode(), id="shuffled compact"),
        pytest.param(json.dumps({**SHUFFLED, "currentContext": "plain"}).encode(), id="switching"),
    ],
)
def test_global_write_equals_docker_context_use_as_json(
    config_dir: Path, tmp_path: Path, docker_cli: str, start: bytes | None
) -> None:
    theirs = tmp_path / "theirs"
    for directory in (config_dir, theirs):
        write_context(directory, "docker-cloud", "tcp://127.0.0.1:2999")
        write_context(directory, "plain", "unix:///tmp/x.sock")
        if start is not None:
            (directory / "config.json").write_bytes(start)
    cli_env = {**os.environ, "DOCKER_CONFIG": str(theirs)}
    for name in ("docker-cloud", "default", "plain"):
        result = contexts.use(name, scope="global", check=False)
        run_cli(docker_cli, "context", "use", name, env=cli_env)
        ours_path, theirs_path = config_dir / "config.json", theirs / "config.json"
        assert result.changed
        assert json.loads(ours_path.read_bytes()) == json.loads(theirs_path.read_bytes()), name
        assert stat.S_IMODE(ours_path.stat().st_mode) == stat.S_IMODE(theirs_path.stat().st_mode)


def test_unknown_keys_are_kept_where_the_cli_would_drop_them(config_dir: Path) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    original = {"auths": {}, "myTool": {"keep": [1, 2.5, None, True]}, "credsStore": "pass"}
    (config_dir / "config.json").write_text(json.dumps(original))
    contexts.use("plain", scope="global", check=False)
    text = (config_dir / "config.json").read_text()
    # Every key stays in its order; a new currentContext goes last, a changed one stays put.
    assert list(json.loads(text)) == ["auths", "myTool", "credsStore", "currentContext"]
    assert json.loads(text)["myTool"] == original["myTool"]
    assert text.startswith('{\n\t"auths": {},\n\t"myTool": {')
    contexts.use("docker-cloud", scope="global", check=False)
    data = json.loads((config_dir / "config.json").read_text())
    assert list(data) == ["auths", "myTool", "credsStore", "currentContext"]
    assert data["currentContext"] == "docker-cloud"
    contexts.use("default", scope="global", check=False)
    assert json.loads((config_dir / "config.json").read_text()) == original


def test_global_write_keeps_mode_and_follows_a_symlink(config_dir: Path, tmp_path: Path) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    real = tmp_path / "dotfiles" / "docker-config.json"
    real.parent.mkdir()
    real.write_text('{"auths": {}, "psFormat": "x"}')
    real.chmod(0o644)
    (config_dir / "config.json").symlink_to(real)
    contexts.use("plain", scope="global", check=False)
    assert (config_dir / "config.json").is_symlink()
    assert json.loads(real.read_text()) == {"auths": {}, "psFormat": "x", "currentContext": "plain"}
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    assert sorted(p.name for p in real.parent.iterdir()) == [
        "docker-config.json",
        "docker-config.json.lock",
    ]


def test_selecting_what_is_already_selected_does_not_rewrite(config_dir: Path) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    (config_dir / "config.json").write_text('{"currentContext": "plain"}')
    mtime = (config_dir / "config.json").stat().st_mtime_ns
    result = contexts.use("plain", scope="global", check=False)
    assert not result.changed
    assert (config_dir / "config.json").read_text() == '{"currentContext": "plain"}'
    assert (config_dir / "config.json").stat().st_mtime_ns == mtime
    empty = config_dir.parent / "fresh"
    os.environ["DOCKER_CONFIG"] = str(empty)
    assert not contexts.use("default", scope="global", check=False).changed
    assert not empty.exists()  # no directory or file created just to record "default"


def test_writers_wait_for_the_lock(config_dir: Path) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    (config_dir / "config.json").write_text("{}")
    lock_fd = os.open(config_dir / "config.json.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    code = "from labadvisor.contexts import use; use('plain', scope='global', check=False)"
    writer = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert writer.poll() is None, "the writer did not wait for the lock"
        assert (config_dir / "config.json").read_text() == "{}"
    finally:
        os.close(lock_fd)
    assert writer.wait(timeout=60) == 0, writer.stderr.read() if writer.stderr else ""
    assert json.loads((config_dir / "config.json").read_text())["currentContext"] == "plain"


def test_a_failed_write_leaves_no_temp_file_and_the_old_file(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(config_dir, "plain", "unix:///tmp/x.sock")
    (config_dir / "config.json").write_text('{"auths": {}}')
    before = snapshot(config_dir)

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", refuse)
    with pytest.raises(contexts.StoreError, match="No space left on device"):
        contexts.use("plain", scope="global", check=False)
    after = snapshot(config_dir)
    after.pop("config.json.lock")
    assert after == before
