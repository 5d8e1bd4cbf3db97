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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker_engines import (
    FakeEngine,
    HostileEngine,
    closed_port,
    isolate_docker_env,
    make_tls_material,
    write_context,
)

from labadvisor import contexts
from labadvisor.contexts import deadline, kernel_env, store, switch
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


# --- hostile engines: every call ends by its deadline --------------------------------------------

# The promise: a call with timeout T returns or fails within T + 0.5 s.
LIMIT_S = 1.5
SAYS_TOO_SLOW = ("no answer within 1 s", "no complete answer within 1 s")
CAUSES = {
    "silent": SAYS_TOO_SLOW,
    "drip": SAYS_TOO_SLOW,
    "killed": ("its answer broke off or is not the JSON a Docker engine sends",),
}


def _switch_kernel() -> object:
    return contexts.use("hostile", timeout=1)


def _switch_global() -> object:
    return contexts.use("hostile", scope="global", timeout=1)


def _ping() -> object:
    return contexts.ping("hostile", timeout=1)


def _client() -> object:
    return contexts.client("hostile", timeout=1)


CALLS: dict[str, Callable[[], object]] = {
    "use": _switch_kernel,
    "use global": _switch_global,
    "ping": _ping,
    "client": _client,
}


@pytest.mark.parametrize("call", [*CALLS, "engine_info"])
@pytest.mark.parametrize("kind", ["silent", "drip", "killed"])
def test_a_hostile_engine_fails_the_call_by_its_deadline(
    config_dir: Path, hostile_engine: Callable[..., HostileEngine], kind: str, call: str
) -> None:
    hostile = hostile_engine(kind)
    write_context(config_dir, "hostile", hostile.host)
    (config_dir / "config.json").write_text('{"auths": {}}')
    before = state(config_dir)
    started = time.monotonic()
    if call == "engine_info":
        info = contexts.engine_info("hostile", timeout=1)
        elapsed = time.monotonic() - started
        assert not info.reachable and info.error in CAUSES[kind]
    else:
        with pytest.raises(contexts.EngineUnreachableError) as caught:
            CALLS[call]()
        elapsed = time.monotonic() - started
        error = caught.value
        assert (error.context, error.endpoint) == ("hostile", hostile.host)
        assert error.cause in CAUSES[kind] and error.cause in str(error)
        assert "'hostile'" in str(error) and hostile.host in str(error)
        if call.startswith("use"):
            assert "nothing was changed" in str(error)
    assert elapsed < LIMIT_S, f"{call} took {elapsed:.2f} s against a {kind} engine"
    assert state(config_dir) == before
    if kind == "killed":
        assert hostile.was_killed()  # it really died mid-request


@pytest.mark.parametrize("kind", ["silent", "drip", "killed"])
def test_a_hostile_engine_on_a_unix_socket(
    config_dir: Path, tmp_path: Path, hostile_engine: Callable[..., HostileEngine], kind: str
) -> None:
    hostile = hostile_engine(kind, unix_path=tmp_path / f"{kind}.sock")
    write_context(config_dir, "hostile", hostile.host)
    before = state(config_dir)
    started = time.monotonic()
    with pytest.raises(contexts.EngineUnreachableError) as caught:
        contexts.use("hostile", timeout=1)
    assert time.monotonic() - started < LIMIT_S
    assert caught.value.cause in CAUSES[kind]
    assert state(config_dir) == before


def test_a_fast_drip_never_trips_a_socket_timeout_but_meets_the_deadline(
    config_dir: Path, hostile_engine: Callable[..., HostileEngine]
) -> None:
    # A byte every 0.1 s: each socket read succeeds, so only a whole-call deadline stops it.
    hostile = hostile_engine("drip", interval=0.1)
    write_context(config_dir, "hostile", hostile.host)
    for call in (_switch_kernel, _ping, _client):
        started = time.monotonic()
        with pytest.raises(contexts.EngineUnreachableError) as caught:
            call()
        elapsed = time.monotonic() - started
        assert 1.0 <= elapsed < LIMIT_S
        assert caught.value.cause == "no complete answer within 1 s"
    started = time.monotonic()
    info = contexts.engine_info("hostile", timeout=1)
    assert time.monotonic() - started < LIMIT_S
    assert info.error == "no complete answer within 1 s" and not info.reachable


def test_many_hostile_engines_at_once_and_a_healthy_one_beside_them(
    config_dir: Path, engine: FakeEngine, hostile_engine: Callable[..., HostileEngine]
) -> None:
    kinds = ["silent"] * 4 + ["drip"] * 4 + ["killed"] * 2
    for i, kind in enumerate(kinds):
        write_context(config_dir, f"hostile-{i}", hostile_engine(kind).host)
    write_context(config_dir, "healthy", engine.host)
    before = state(config_dir)
    outcomes: dict[str, tuple[float, BaseException | None]] = {}
    start = threading.Barrier(len(kinds) + 1)

    def switch(name: str) -> None:
        start.wait()
        began = time.monotonic()
        try:
            contexts.ping(name, timeout=1)
        except BaseException as exc:  # recorded and checked below
            outcomes[name] = (time.monotonic() - began, exc)
        else:
            outcomes[name] = (time.monotonic() - began, None)

    names = [f"hostile-{i}" for i in range(len(kinds))] + ["healthy"]
    threads = [threading.Thread(target=switch, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    for i, kind in enumerate(kinds):
        elapsed, error = outcomes[f"hostile-{i}"]
        assert isinstance(error, contexts.EngineUnreachableError), (kind, error)
        assert elapsed < LIMIT_S, (kind, elapsed)
    elapsed, error = outcomes["healthy"]
    assert error is None and elapsed < 1.0  # not held up by the others
    assert state(config_dir) == before


def test_when_every_worker_is_stuck_a_check_fails_by_its_deadline_saying_why(
    config_dir: Path,
    engine: FakeEngine,
    hostile_engine: Callable[..., HostileEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deadline, "_slots", threading.BoundedSemaphore(1))
    write_context(config_dir, "hostile", hostile_engine("drip", interval=0.1).host)
    write_context(config_dir, "healthy", engine.host)
    with pytest.raises(contexts.EngineUnreachableError):
        contexts.ping("hostile", timeout=0.5)  # abandoned, still reading the drip
    started = time.monotonic()
    with pytest.raises(contexts.EngineUnreachableError) as caught:
        contexts.use("healthy", timeout=0.5)
    assert time.monotonic() - started < 1.0
    assert "earlier engine checks are still waiting" in caught.value.cause


def test_an_abandoned_check_does_not_hold_up_interpreter_exit(
    config_dir: Path, hostile_engine: Callable[..., HostileEngine]
) -> None:
    write_context(config_dir, "hostile", hostile_engine("drip", interval=0.1).host)
    code = textwrap.dedent(
        """
        import time
        from labadvisor import contexts
        began = time.monotonic()
        try:
            contexts.use("hostile", timeout=1)
        except contexts.EngineUnreachableError as exc:
            print(f"{time.monotonic() - began:.2f}", exc.cause)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    elapsed, cause = done.stdout.split(" ", 1)
    assert float(elapsed) < LIMIT_S and cause.strip() == "no complete answer within 1 s"


def test_the_cli_switch_ends_by_its_timeout_against_a_dripping_engine(
    config_dir: Path, hostile_engine: Callable[..., HostileEngine]
) -> None:
    write_context(config_dir, "hostile", hostile_engine("drip").host)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "labadvisor", "context", "use", "hostile", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "did not answer" in done.stderr and "Traceback" not in done.stderr
    assert elapsed < 15  # interpreter start-up included; a per-read timeout ran for minutes


# --- timeouts -----------------------------------------------------------------------------------

TIMEOUT_RULE = "timeout must be a number of seconds greater than 0 and at most 600"


@pytest.mark.parametrize(
    "timeout",
    [0, -1, 600.001, 601, 1e10, 10**400, float("nan"), float("inf"), True, "3", None, [1]],
)
def test_timeouts_outside_the_range_are_refused_naming_the_value(
    config_dir: Path, timeout: object
) -> None:
    before = state(config_dir)
    calls: list[Callable[[], object]] = [
        lambda: contexts.use("default", timeout=timeout),  # type: ignore[arg-type]
        lambda: contexts.use("default", check=False, timeout=timeout),  # type: ignore[arg-type]
        lambda: contexts.ping("default", timeout=timeout),  # type: ignore[arg-type]
        lambda: contexts.engine_info("default", timeout=timeout),  # type: ignore[arg-type]
    ]
    if timeout is not None:  # client(timeout=None) means docker-py's default
        calls.append(lambda: contexts.client("default", timeout=timeout))  # type: ignore[arg-type]
    for call in calls:
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith(TIMEOUT_RULE) and len(message) < 200
        if timeout != 10**400:
            assert repr(timeout) in message
    assert state(config_dir) == before


def test_the_longest_timeout_is_allowed(config_dir: Path, engine: FakeEngine) -> None:
    write_context(config_dir, "healthy", engine.host)
    assert contexts.use("healthy", timeout=600).round_trip_ms is not None
    assert contexts.engine_info("healthy", timeout=600.0).reachable
    assert contexts.use("default", check=False, timeout=1e-3).context == "default"


# --- leaving Offload always works -------------------------------------------------------------


@pytest.mark.parametrize("scope", ["kernel", "global"])
@pytest.mark.parametrize("target", ["local", "default"])
def test_the_local_role_is_switched_to_even_when_its_engine_is_down(
    config_dir: Path, engine: FakeEngine, tmp_path: Path, scope: Scope, target: str
) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    missing = tmp_path / "docker.sock"
    os.environ["DOCKER_HOST"] = f"unix://{missing}"  # "default", and so "local", is down
    contexts.use("offload", scope=scope)
    started = time.monotonic()
    result = contexts.use(target, scope=scope)
    assert time.monotonic() - started < 1.0
    assert result.context == "default" and result.changed and result.previous == "docker-cloud"
    assert result.checked and result.round_trip_ms is None
    assert result.engine_error == f"no socket at {missing}"
    assert "switched anyway" in (result.note or "") and str(missing) in (result.note or "")
    assert "switched anyway" in result.summary() and "did not answer" in result._repr_html_()
    assert json.loads(json.dumps(result.to_dict()))["engine_error"] == result.engine_error
    assert contexts.current().name == "default"
    if scope == "kernel":
        assert os.environ["DOCKER_HOST"] == f"unix://{missing}"  # put back, as always
    else:
        assert "currentContext" not in json.loads((config_dir / "config.json").read_text())
    # Every other target still refuses a dead engine.
    write_context(config_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
    with pytest.raises(contexts.EngineUnreachableError, match="nothing was changed"):
        contexts.use("offload", scope=scope)


@pytest.mark.parametrize("scope", ["kernel", "global"])
def test_already_local_with_its_engine_down_says_only_that_it_is_down(
    config_dir: Path, tmp_path: Path, scope: Scope
) -> None:
    """Nothing switched, so the note must not say "switched anyway"."""
    missing = tmp_path / "docker.sock"
    os.environ["DOCKER_HOST"] = f"unix://{missing}"
    contexts.use("local", scope=scope)
    result = contexts.use("local", scope=scope)
    assert result.context == result.previous == "default"
    assert result.engine_error == f"no socket at {missing}"
    assert "did not answer" in (result.note or "") and str(missing) in (result.note or "")
    assert "switched anyway" not in result.summary()
    assert not result.changed and "nothing changed" in result.summary(), result.summary()


def test_docker_desktops_context_is_the_local_role(
    config_dir: Path, engine: FakeEngine, hostile_engine: Callable[..., HostileEngine]
) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    hung = hostile_engine("silent")
    write_context(config_dir, "desktop-linux", hung.host)
    contexts.use("offload")
    for target in ("local", "desktop-linux"):
        contexts.use("offload")
        started = time.monotonic()
        result = contexts.use(target, timeout=1)
        assert time.monotonic() - started < LIMIT_S
        assert result.context == "desktop-linux" and result.changed
        assert result.engine_error == "no answer within 1 s"
    # With Docker Desktop present, "default" is not what "local" means: it refuses as before.
    os.environ["DOCKER_HOST"] = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(contexts.EngineUnreachableError, match="connection refused"):
        contexts.use("default")


def test_a_live_local_engine_reports_no_error(config_dir: Path, engine: FakeEngine) -> None:
    os.environ["DOCKER_HOST"] = engine.host
    result = contexts.use("local")
    assert result.engine_error is None and result.round_trip_ms is not None
    assert "switched anyway" not in result.summary()


# --- endpoints docker-py cannot parse -----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("tcp://[::1", "Invalid IPv6 URL"),
        ("tcp://127.0.0.1:99999", "Port out of range"),
        ("foo://bar", "Invalid bind address protocol"),
    ],
)
def test_an_endpoint_that_is_not_an_address_is_a_clear_engine_error(
    config_dir: Path, host: str, reason: str
) -> None:
    write_context(config_dir, "odd", host)
    before = state(config_dir)
    for call in (
        lambda: contexts.use("odd"),
        lambda: contexts.use("odd", scope="global"),
        lambda: contexts.ping("odd"),
        lambda: contexts.client("odd"),
    ):
        with pytest.raises(contexts.EngineUnreachableError) as caught:
            call()
        assert caught.value.cause.startswith("its endpoint is not a valid Docker host")
        assert reason in caught.value.cause and host in str(caught.value)
    info = contexts.engine_info("odd")
    assert not info.reachable and reason in (info.error or "")
    assert state(config_dir) == before
    assert [c.host for c in contexts.list_contexts() if c.name == "odd"] == [host]
    # As DOCKER_HOST, it is "default" and so the local role: leaving Offload still works.
    os.environ["DOCKER_HOST"] = host
    result = contexts.use("local")
    assert result.context == "default" and reason in (result.engine_error or "")


# --- oversized input ------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["kernel", "global"])
def test_a_huge_name_is_quoted_cut_short(config_dir: Path, scope: Scope) -> None:
    before = state(config_dir)
    huge = "a" * 2_000_000
    cases: list[tuple[object, type[Exception]]] = [
        (huge, contexts.ContextNotFoundError),
        ("-" + huge, contexts.InvalidContextNameError),
        ([huge], contexts.InvalidContextNameError),
    ]
    for target, error in cases:
        started = time.monotonic()
        with pytest.raises(error) as caught:
            contexts.use(target, scope=scope)  # type: ignore[arg-type]
        assert time.monotonic() - started < 1.0
        message = str(caught.value)
        assert len(message) < 1000 and "characters)" in message
    for bad in ({"scope": huge}, {"timeout": huge}):
        with pytest.raises(ValueError) as caught:
            contexts.use("default", **bad)  # type: ignore[arg-type]
        assert len(str(caught.value)) < 400 and "2000000 characters" in str(caught.value)
    with pytest.raises(contexts.ContextNotFoundError) as caught:
        contexts.engine_info(huge)
    assert len(str(caught.value)) < 1000
    assert state(config_dir) == before


def test_a_huge_endpoint_is_cut_in_engine_errors(config_dir: Path) -> None:
    host = "tcp://" + "h" * 100_000 + ":2375"
    write_context(config_dir, "far", host)
    with pytest.raises(contexts.EngineUnreachableError) as caught:
        contexts.use("far", timeout=1)
    assert len(str(caught.value)) < 1000 and caught.value.endpoint == host


def test_the_way_back_to_a_hung_local_engine_never_waits_the_full_timeout(
    config_dir: Path, engine: FakeEngine, hostile_engine: Callable[..., HostileEngine]
) -> None:
    write_context(config_dir, "docker-cloud", engine.host)
    hung = hostile_engine("silent")
    write_context(config_dir, "desktop-linux", hung.host)
    contexts.use("offload")
    started = time.monotonic()
    result = contexts.use("local", timeout=30)
    elapsed = time.monotonic() - started
    assert result.context == "desktop-linux" and result.engine_error
    assert elapsed < switch.LOCAL_CHECK_SECONDS + 0.5, f"took {elapsed:.2f} s"
    # Other targets keep the deadline they are given.
    write_context(config_dir, "hung", hung.host)
    started = time.monotonic()
    with pytest.raises(contexts.EngineUnreachableError):
        contexts.use("hung", timeout=2)
    assert time.monotonic() - started >= 2
