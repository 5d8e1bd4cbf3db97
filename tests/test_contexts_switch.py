"""use()/using() semantics, errors that change nothing, pings, TLS and engine_info, against
stand-in engines (FakeEngine) so they run without dockerd; test_contexts_engines.py repeats the
important paths against real engines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker_engines import (
    FakeEngine,
    closed_port,
    isolate_docker_env,
    make_tls_material,
    write_context,
)

from labadvisor import contexts
from labadvisor.contexts import kernel_env, store
from labadvisor.contexts.engine import gpu_capability
from labadvisor.contexts.switch import Scope


@pytest.fixture
def config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_docker_env(monkeypatch, tmp_path)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[FakeEngine]:
    with FakeEngine(unix_path=tmp_path / "engine.sock") as fake:
        yield fake


def state(config_dir: Path) -> tuple[dict[str, str], dict[str, str], dict[str, bytes]]:
    """Everything a switch could change: DOCKER_* variables, set-aside values, the store."""
    files = {
        str(p.relative_to(config_dir)): p.read_bytes()
        for p in sorted(config_dir.rglob("*"))
        if p.is_file() and p.name != "config.json.lock"
    }
    env = {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")}
    return env, kernel_env.set_aside(), files


# --- kernel scope -------------------------------------------------------------------------------


def test_kernel_switch_sets_aside_docker_host_and_restores_it(
    config_dir: Path, engine: FakeEngine
) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    os.environ.update(
        DOCKER_HOST="tcp://10.9.9.9:2376", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH="/certs"
    )
    result = contexts.use("offload")
    assert result.checked and result.round_trip_ms is not None and result.round_trip_ms > 0
    assert result.docker_host_set_aside == "tcp://10.9.9.9:2376"
    assert os.environ["DOCKER_CONTEXT"] == "docker-cloud"
    assert not {"DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"} & set(os.environ)
    default = next(c for c in contexts.list_contexts() if c.name == "default")
    assert default.host == "tcp://10.9.9.9:2376"  # where use("default") leads back to
    assert "set aside" in (result.note or "") and "docker-cloud" in repr(result)
    json.dumps(result.to_dict())

    contexts.use("default", check=False)
    assert os.environ["DOCKER_HOST"] == "tcp://10.9.9.9:2376"
    assert os.environ["DOCKER_TLS_VERIFY"] == "1" and os.environ["DOCKER_CERT_PATH"] == "/certs"
    assert "DOCKER_CONTEXT" not in os.environ and kernel_env.set_aside() == {}


def test_kernel_default_overrides_current_context_in_config(config_dir: Path) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    (config_dir / "config.json").write_text('{"currentContext": "docker-cloud"}')
    assert contexts.current().name == "docker-cloud"
    result = contexts.use("local", check=False)
    assert (result.context, result.previous) == ("default", "docker-cloud")
    assert os.environ["DOCKER_CONTEXT"] == "default"
    assert contexts.current().name == "default"
    assert (config_dir / "config.json").read_text() == '{"currentContext": "docker-cloud"}'


def test_using_restores_everything_even_on_error(config_dir: Path, engine: FakeEngine) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    write_context(config_dir, "desktop-linux", engine.host)
    os.environ["DOCKER_HOST"] = "tcp://10.9.9.9:2375"
    before = state(config_dir)
    with pytest.raises(KeyError), contexts.using("offload"):
        assert contexts.current().name == "docker-cloud"
        with contexts.using("local") as inner:
            assert inner.context == "desktop-linux"  # Docker Desktop's context wins "local"
            assert contexts.current().name == "desktop-linux"
        assert contexts.current().name == "docker-cloud"
        raise KeyError("boom")
    assert state(config_dir) == before
    with pytest.raises(contexts.ContextNotFoundError), contexts.using("nope"):
        pytest.fail("the block must not run when the switch fails")
    assert state(config_dir) == before


def test_docker_py_is_imported_only_when_an_engine_is_contacted(
    config_dir: Path, engine: FakeEngine
) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    code = textwrap.dedent(
        """
        import sys
        import labadvisor, labadvisor.contexts as c
        assert "docker" not in sys.modules, "import"
        c.use("offload", check=False); c.list_contexts(); c.current()
        c.use("offload", scope="global", check=False); c.use("default", check=False)
        assert "docker" not in sys.modules, "use"
        assert c.use("offload").checked
        assert "docker" in sys.modules, "the engine check should have imported docker"
        assert c.engine_info().reachable and c.client().ping()
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- errors change nothing ----------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["kernel", "global"])
@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        ("", contexts.InvalidContextNameError, ["empty", "valid contexts: default, docker-cloud"]),
        ("bad name", contexts.InvalidContextNameError, ["'bad name'", "^[a-zA-Z0-9]"]),
        ("x", contexts.InvalidContextNameError, ["'x'", "must match"]),
        ("../etc", contexts.InvalidContextNameError, ["'../etc'", "roles: local, offload"]),
        (None, contexts.InvalidContextNameError, ["None", "string"]),
        (42, contexts.InvalidContextNameError, ["42", "string"]),
        (
            "nope",
            contexts.ContextNotFoundError,
            ["'nope'", "valid contexts: default, docker-cloud"],
        ),
        ("Offload", contexts.ContextNotFoundError, ["did you mean 'offload'"]),
        ("docker-clod", contexts.ContextNotFoundError, ["did you mean 'docker-cloud'"]),
        ("desktop-linux", contexts.ContextNotFoundError, ["Docker Desktop"]),
    ],
)
def test_bad_targets_name_the_value_and_the_valid_ones(
    config_dir: Path, scope: Scope, target: object, error: type, words: list[str]
) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    (config_dir / "config.json").write_text('{"auths": {}}')
    before = state(config_dir)
    with pytest.raises(error) as caught:
        contexts.use(target, scope=scope, check=False)  # type: ignore[arg-type]
    for word in words:
        assert word in str(caught.value)
    assert state(config_dir) == before


def test_missing_offload_context_explains_how_to_get_one(config_dir: Path) -> None:
    with pytest.raises(contexts.ContextNotFoundError, match=r"Docker Desktop 4\.50") as caught:
        contexts.use("offload", check=False)
    assert "docker offload start" in str(caught.value)
    with pytest.raises(contexts.ContextNotFoundError, match="docker offload start"):
        contexts.use("docker-cloud", check=False)


def test_offload_role_with_several_candidates(config_dir: Path) -> None:
    write_context(config_dir, "cloud-a", "unix:///home/u/.docker/cloud/a.sock")
    assert contexts.use("offload", check=False).context == "cloud-a"
    write_context(config_dir, "cloud-b", "unix:///home/u/.docker/cloud/b.sock")
    with pytest.raises(contexts.AmbiguousContextError, match="cloud-a, cloud-b"):
        contexts.use("offload", check=False)
    write_context(config_dir, "docker-cloud", "unix:///home/u/.docker/cloud/docker-cloud.sock")
    assert contexts.use("offload", check=False).context == "docker-cloud"


@pytest.mark.parametrize("scope", ["kernel", "global"])
@pytest.mark.parametrize(
    "content", [b"{", b'{"auths": {}, }', b"[]", b'{"currentContext": 7}', b"\xff\xfe"]
)
def test_corrupted_config_json_stops_the_switch(
    config_dir: Path, scope: Scope, content: bytes
) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    (config_dir / "config.json").write_bytes(content)
    before = state(config_dir)
    with pytest.raises(contexts.StoreError, match=r"config\.json"):
        contexts.use("docker-cloud", scope=scope, check=False)
    assert state(config_dir) == before


def _meta_is_a_file(config_dir: Path) -> None:
    (config_dir / "contexts").mkdir()
    (config_dir / "contexts" / "meta").write_text("not a directory")


def _meta_json_is_a_directory(config_dir: Path) -> None:
    meta = write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    meta.unlink()
    meta.mkdir()


def _meta_json_is_garbage(config_dir: Path) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999").write_text("{bad")


def _entry_named_default(config_dir: Path) -> None:
    write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    write_context(config_dir, "default", "tcp://10.0.0.1:2375")


def _entry_in_the_wrong_directory(config_dir: Path) -> None:
    meta = write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
    meta.parent.rename(meta.parent.with_name(store.context_id("elsewhere")))


@pytest.mark.parametrize("scope", ["kernel", "global"])
@pytest.mark.parametrize(
    ("breakage", "words"),
    [
        (_meta_is_a_file, ["cannot read the Docker context store", "Not a directory"]),
        (_meta_json_is_a_directory, ["cannot read", "Is a directory"]),
        (_meta_json_is_garbage, ["not valid JSON", "meta.json"]),
        (_entry_named_default, ["reserved", "built-in"]),
        (_entry_in_the_wrong_directory, ["not the sha256", "docker-cloud"]),
    ],
)
def test_unreadable_store_stops_the_switch(
    config_dir: Path, scope: Scope, breakage: Callable[[Path], None], words: list[str]
) -> None:
    breakage(config_dir)
    (config_dir / "config.json").write_text('{"auths": {}}')
    before = state(config_dir)
    with pytest.raises(contexts.StoreError) as caught:
        # The role needs the whole store; the name alone needs only its own entry.
        target = "docker-cloud" if breakage is _meta_json_is_garbage else "offload"
        contexts.use(target, scope=scope, check=False)
    for word in words:
        assert word in str(caught.value)
    assert state(config_dir) == before
    with pytest.raises(contexts.StoreError):
        contexts.list_contexts()


def test_store_without_read_permission(config_dir: Path) -> None:
    """A real permission error. Root reads anything, so as root the check runs in a child that
    drops to nobody, with a copy of the package and a store it can reach."""
    package = Path(contexts.__file__).parent.parent
    if os.geteuid() != 0:
        write_context(config_dir, "docker-cloud", "tcp://127.0.0.1:2999")
        (config_dir / "contexts" / "meta").chmod(0o000)
        try:
            with pytest.raises(contexts.StoreError, match="Permission denied"):
                contexts.use("docker-cloud", check=False)
        finally:
            (config_dir / "contexts" / "meta").chmod(0o755)
        return
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 for the unprivileged child")
    runner = Path(tempfile.mkdtemp(prefix="la-perm-", dir="/tmp"))
    try:
        shutil.copytree(package / "contexts", runner / "labadvisor" / "contexts")
        for name in ("__init__.py", "units.py"):
            shutil.copy(package / name, runner / "labadvisor" / name)
        store_dir = runner / "docker"
        write_context(store_dir, "docker-cloud", "tcp://127.0.0.1:2999")
        (store_dir / "config.json").write_text('{"auths": {}}')
        subprocess.run(["chmod", "-R", "a+rX", str(runner)], check=True)
        (store_dir / "contexts" / "meta").chmod(0o700)  # root's, unreadable to nobody
        code = textwrap.dedent(
            """
            import os, sys
            from labadvisor import contexts
            try:
                contexts.use("docker-cloud", check=False)
            except contexts.StoreError as exc:
                print(exc)
                sys.exit(0 if "DOCKER_CONTEXT" not in os.environ else 3)
            sys.exit(4)
            """
        )

        def as_nobody() -> None:
            os.setgid(65534)
            os.setuid(65534)

        env = {"PATH": "/usr/bin:/bin", "HOME": str(runner), "PYTHONPATH": str(runner),
               "DOCKER_CONFIG": str(store_dir), "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
        result = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, env=env, preexec_fn=as_nobody
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Permission denied" in result.stdout and "contexts/meta" in result.stdout
    finally:
        shutil.rmtree(runner, ignore_errors=True)


# --- reachability -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["kernel", "global"])
@pytest.mark.parametrize("kind", ["refused", "no socket", "silent"])
def test_unreachable_target_names_context_endpoint_and_cause(
    config_dir: Path, tmp_path: Path, scope: Scope, kind: str
) -> None:
    silent = None
    if kind == "refused":
        host, cause = f"tcp://127.0.0.1:{closed_port()}", "connection refused"
    elif kind == "no socket":
        host, cause = f"unix://{tmp_path}/missing.sock", f"no socket at {tmp_path}/missing.sock"
    else:
        silent = FakeEngine(unix_path=tmp_path / "silent.sock", hang=True)
        host, cause = silent.host, "no answer within 0.3 s"
    write_context(config_dir, "far-away", host)
    (config_dir / "config.json").write_text('{"auths": {}}')
    before = state(config_dir)
    started = time.monotonic()
    try:
        with pytest.raises(contexts.EngineUnreachableError) as caught:
            contexts.use("far-away", scope=scope, timeout=0.3)
        elapsed = time.monotonic() - started
        info = contexts.engine_info("far-away", timeout=0.3)
    finally:
        if silent is not None:
            silent.close()
    error = caught.value
    assert (error.context, error.endpoint, error.cause) == ("far-away", host, cause)
    assert "'far-away'" in str(error) and host in str(error) and cause in str(error)
    assert "nothing was changed" in str(error)
    assert state(config_dir) == before
    assert elapsed < 2.0
    if kind == "silent":
        assert elapsed >= 0.3
    assert not info.reachable and info.error == cause and "unreachable" in repr(info)
    assert json.loads(json.dumps(info.to_dict()))["reachable"] is False


def test_bad_arguments(config_dir: Path) -> None:
    with pytest.raises(ValueError, match="scope must be one of 'kernel', 'global'"):
        contexts.use("default", scope="process")  # type: ignore[arg-type]
    for timeout in (0, -1, float("nan"), "3"):
        with pytest.raises(ValueError, match="timeout"):
            contexts.use("default", timeout=timeout)  # type: ignore[arg-type]


# --- engine_info and TLS ------------------------------------------------------------------------


def test_engine_info_reports_cdi_gpus_and_resources(config_dir: Path, tmp_path: Path) -> None:
    info = {
        "ID": "ABCD:EFGH",
        "Name": "cloud-engine",
        "NCPU": 8,
        "MemTotal": 32 * 1024**3,
        "OperatingSystem": "Ubuntu 24.04",
        "OSType": "linux",
        "Architecture": "x86_64",
        "Runtimes": {"runc": {"path": "runc"}},
        "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=0"}],
    }
    with FakeEngine(unix_path=tmp_path / "gpu.sock", info=info) as fake:
        write_context(config_dir, "docker-cloud", fake.host)
        found = contexts.engine_info("offload")
    assert found.reachable and found.gpu and found.gpu_sources == ("CDI nvidia.com/gpu=0",)
    assert (found.cpus, found.memory_gib, found.engine_id) == (8, 32.0, "ABCD:EFGH")
    assert (found.server_version, found.api_version, found.os) == (
        "99.0.0-fake",
        "1.41",
        "Ubuntu 24.04",
    )
    payload = json.loads(json.dumps(found.to_dict()))
    assert payload["gpu_sources"] == ["CDI nvidia.com/gpu=0"] and payload["memory_gib"] == 32.0
    assert "8 CPUs, 32.0 GiB" in repr(found) and "<table>" in found._repr_html_()


def test_gpu_capability_sources() -> None:
    assert gpu_capability({}) == ()
    assert gpu_capability({"Runtimes": {"runc": {}, "nvidia": {}}}) == ("runtime nvidia",)
    devices = [
        {"Source": "cdi", "ID": "vendor.com/fpga=0"},
        {"Source": "cdi", "ID": "amd.com/gpu=1"},
    ]
    assert gpu_capability({"DiscoveredDevices": devices}) == ("CDI amd.com/gpu=1",)


def test_tls_material_from_the_store_is_used(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = make_tls_material(tmp_path / "tls")
    # A process-wide CA bundle (common behind corporate proxies) must not replace the context's.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.server_cert))
    with FakeEngine(tls=tls.server_context()) as fake:
        port_host = fake.host
        write_context(config_dir, "secure", port_host)
        # Put the material where `docker context create --docker ca=,cert=,key=` copies it.
        tls_dir = config_dir / "contexts" / "tls" / store.context_id("secure") / "docker"
        tls_dir.mkdir(parents=True)
        for source, name in ((tls.ca, "ca.pem"), (tls.client_cert, "cert.pem"),
                             (tls.client_key, "key.pem")):  # fmt: skip
            (tls_dir / name).write_bytes(source.read_bytes())
        assert contexts.use("secure").round_trip_ms is not None
        assert contexts.engine_info("secure").engine_id == "FAKE:ENGINE"
        docker_client = contexts.client("secure")
        assert docker_client.ping() is True
        assert docker_client.version()["Version"] == "99.0.0-fake"
        assert docker_client.api.api_version == "1.41"
        docker_client.close()
        # Without the client certificate the engine (which requires one) refuses the handshake.
        (tls_dir / "cert.pem").unlink()
        (tls_dir / "key.pem").unlink()
        with pytest.raises(contexts.EngineUnreachableError) as caught:
            contexts.use("secure", timeout=2)
        assert caught.value.endpoint == port_host
