"""Two real Docker engines for tests, started once per session: the ``docker_engines`` fixture.

- "local": dockerd on a unix socket, ``<root>/local.sock``.
- "offload": dockerd on a random 127.0.0.1 TCP port, with an extra runtime named ``nvidia``
  (pointing at runc) in its daemon config, so GPU-capability detection has something real to
  find. It is registered as the context ``docker-cloud`` in the fixture's DOCKER_CONFIG, the
  name ``docker offload start`` gives its context.

Both run Debian's docker.io (``/usr/sbin/dockerd``, 20.10) with ``--iptables=false
--bridge=none --storage-driver=vfs`` and their own data root, exec root, managed containerd,
pid file and identity key, under one short temp dir (/tmp/la-XXXX: unix socket paths must stay
under 108 bytes). A tiny image, ``labadvisor-tiny:latest`` (static busybox), is made with
``docker import`` on both; nothing is ever pulled. The machine's /var/run/docker.sock,
/etc/docker and ~/.docker are never used. Containers need ``--network none`` (there is no
bridge). Both daemons are stopped by PID when the session ends, also after failures.

The docker CLI used here is ``/usr/bin/docker`` from the same docker.io package as the daemon:
it is the one ``make test`` installs, and its version matches the engines. The ``docker`` first
on PATH (e.g. an unrelated /usr/local/bin/docker) is what a notebook's ``!docker`` runs; tests
that mean that one say so.

Needs root plus the Debian packages docker.io and busybox-static. Without them the tests that
use the fixture are skipped with the reason, unless LABADVISOR_REQUIRE_DOCKER=1 is set, in which
case they fail (so a CI machine that should run them cannot skip them silently).

Use::

    def test_something(docker_engines, monkeypatch, tmp_path):
        config = docker_engines.copy_config(tmp_path / "docker")  # a store this test may write
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        monkeypatch.setenv("DOCKER_HOST", docker_engines.local_host)  # "default" = local engine

``docker_engines.env(config)`` gives those variables for a child process such as a Jupyter
server; without an argument it names the shared store, which must then stay unwritten.

Stand-ins that need no dockerd live here too: ``FakeEngine`` (a well-behaved engine, also
with TLS or GPU runtimes) and ``HostileEngine`` with its ``hostile_engine`` fixture (one that
accepts and never answers, one that drips a byte a second, one killed mid-request).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from local_servers import free_port

DOCKERD = "/usr/sbin/dockerd"
DOCKER_CLI = "/usr/bin/docker"
IMAGE = "labadvisor-tiny:latest"
OFFLOAD_CONTEXT = "docker-cloud"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
_BUSYBOX_APPLETS = ("sh", "true", "false", "echo", "cat", "sleep", "hostname", "ls")


@dataclass(frozen=True)
class DockerEngines:
    """The running engines; everything a test needs to reach and tell them apart."""

    root: Path
    config_dir: Path  # DOCKER_CONFIG with the docker-cloud context; copy it before writing
    local_host: str  # unix:///tmp/la-XXXX/local.sock
    offload_host: str  # tcp://127.0.0.1:PORT, context docker-cloud
    local_id: str  # engine IDs as reported by /info
    offload_id: str
    image: str = IMAGE
    docker_cli: str = DOCKER_CLI
    offload_context: str = OFFLOAD_CONTEXT

    def env(self, config_dir: Path | None = None) -> dict[str, str]:
        """Variables that make "default" the local engine and ``config_dir`` (default: the
        shared store) the context store. A test that may write config.json (a global switch)
        should pass its own ``copy_config()``, so other tests see the shared store unchanged."""
        store = self.config_dir if config_dir is None else config_dir
        return {"DOCKER_CONFIG": str(store), "DOCKER_HOST": self.local_host}

    def copy_config(self, destination: Path) -> Path:
        """A private copy of the context store (contexts only, never a config.json)."""
        shutil.copytree(self.config_dir / "contexts", destination / "contexts", dirs_exist_ok=True)
        return destination

    def engine_id(self, host: str) -> str:
        return str(http_get_json(host, "/info")["ID"])

    def container_names(self, host: str) -> set[str]:
        """Names of all containers, running or not, on the engine at ``host``."""
        listing = http_get_json(host, "/containers/json?all=1")
        return {name.lstrip("/") for container in listing for name in container["Names"]}


def missing_prerequisite() -> str | None:
    """Why the engines cannot start here, or None."""
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    for path, package in ((DOCKERD, "docker.io"), (DOCKER_CLI, "docker.io")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (Debian package {package})"
    busybox = shutil.which("busybox")
    if busybox is None:
        return "busybox is missing (Debian package busybox-static)"
    if _is_dynamic(busybox):
        return f"{busybox} is dynamically linked; the tiny image needs busybox-static"
    return None


@pytest.fixture(scope="session")
def docker_engines() -> Iterator[DockerEngines]:
    """Session-scoped: start both engines once; stop them by PID at the end, even on failure."""
    reason = missing_prerequisite()
    if reason is not None:
        if os.environ.get("LABADVISOR_REQUIRE_DOCKER") == "1":
            pytest.fail(
                f"LABADVISOR_REQUIRE_DOCKER=1 but the Docker engines cannot start: {reason}"
            )
        pytest.skip(f"real Docker engines unavailable: {reason}")
    with running_engines() as engines:
        yield engines


@contextlib.contextmanager
def running_engines() -> Iterator[DockerEngines]:
    root = Path(tempfile.mkdtemp(prefix="la-", dir="/tmp"))
    daemons: list[_Daemon] = []
    try:
        local_host = f"unix://{root}/local.sock"
        offload_host = f"tcp://127.0.0.1:{free_port()}"
        daemons.append(_Daemon.start(root / "local", local_host, {}))
        daemons.append(
            _Daemon.start(
                root / "offload", offload_host, {"runtimes": {"nvidia": {"path": "runc"}}}
            )
        )
        for daemon in daemons:
            daemon.wait_ready()
        rootfs = _tiny_rootfs(root / "tiny.tar")
        cli_env = {**_base_env(root), "DOCKER_CONFIG": str(root / "cli-config")}
        for daemon in daemons:
            _run([DOCKER_CLI, "-H", daemon.host, "import", "--change", 'CMD ["/bin/sh"]',
                  str(rootfs), IMAGE], cli_env)  # fmt: skip
        config_dir = root / "docker-config"
        _run(
            [
                DOCKER_CLI, "context", "create", OFFLOAD_CONTEXT,
                "--description", "Docker Offload (test engine)",
                "--docker", f"host={offload_host}",
            ],
            {**_base_env(root), "DOCKER_CONFIG": str(config_dir)},
        )  # fmt: skip
        engines = DockerEngines(
            root=root,
            config_dir=config_dir,
            local_host=local_host,
            offload_host=offload_host,
            local_id=str(http_get_json(local_host, "/info")["ID"]),
            offload_id=str(http_get_json(offload_host, "/info")["ID"]),
        )
        if engines.local_id == engines.offload_id:
            raise RuntimeError(f"both engines report the same ID {engines.local_id}")
        yield engines
    finally:
        # Signal all first so both shut down in parallel; then wait for each.
        for daemon in daemons:
            daemon.signal()
        for daemon in reversed(daemons):
            daemon.stop()
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


class _Daemon:
    def __init__(self, directory: Path, host: str, process: subprocess.Popen[bytes]) -> None:
        self.directory = directory
        self.host = host
        self.process = process

    @classmethod
    def start(cls, directory: Path, host: str, extra_config: dict[str, Any]) -> _Daemon:
        directory.mkdir()
        # Our own identity key: by default dockerd 20.10 writes /etc/docker/key.json and both
        # engines would then report the same ID.
        config = {"deprecated-key-path": str(directory / "key.json"), **extra_config}
        config_file = directory / "daemon.json"
        config_file.write_text(json.dumps(config))
        command = [
            DOCKERD,
            "--config-file", str(config_file),  # also keeps /etc/docker/daemon.json out
            "--iptables=false", "--bridge=none", "--storage-driver=vfs",
            "--data-root", str(directory / "data"),
            "--exec-root", str(directory / "exec"),
            "--pidfile", str(directory / "dockerd.pid"),
            "-H", host,
        ]  # fmt: skip
        with open(directory / "dockerd.log", "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_base_env(directory),
                start_new_session=True,  # a Ctrl-C in the terminal must not skip our cleanup
            )
        return cls(directory, host, process)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(
                    f"dockerd for {self.host} exited with {code}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                if http_get(self.host, "/_ping", timeout=1.0) == b"OK":
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"dockerd for {self.host} not ready in {START_TIMEOUT_S:g} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        log = self.directory / "dockerd.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def signal(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a timeout; wait for exit; then its containerd likewise."""
        _terminate(self.process.pid, lambda: self.process.poll() is not None, self.process.wait)
        containerd_pid_file = self.directory / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            pid = int(containerd_pid_file.read_text().strip())
            # Only if that PID is still our containerd, not a reused number.
            if str(self.directory) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                _terminate(pid, lambda: not Path(f"/proc/{pid}").exists(), None)


def _terminate(pid: int, exited: Any, reap: Any) -> None:
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 10.0)):
        if exited():
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while not exited() and time.monotonic() < deadline:
            time.sleep(0.05)
    if reap is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            reap(timeout=5)


def http_get(host: str, path: str, timeout: float = 10.0) -> bytes:
    """GET from an engine with the standard library only (independent of the code under test)."""
    parts = urlsplit(host)
    if parts.scheme == "unix":
        connection: http.client.HTTPConnection = _UnixHTTPConnection(parts.path, timeout)
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"GET {path} on {host}: HTTP {response.status}: {body[:200]!r}")
        return body
    finally:
        connection.close()


def http_get_json(host: str, path: str) -> Any:
    return json.loads(http_get(host, path))


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _base_env(home: Path) -> dict[str, str]:
    # No DOCKER_* from the caller, and a HOME that is not the real one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["HOME"] = str(home)
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")


def _tiny_rootfs(path: Path) -> Path:
    busybox = shutil.which("busybox")
    assert busybox is not None
    with tarfile.open(path, "w") as tar:
        for directory in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in _BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return path


def _is_dynamic(executable: str) -> bool:
    # A dynamically linked ELF names its loader (PT_INTERP) near the start of the file.
    with open(executable, "rb") as handle:
        head = handle.read(4096)
    return b"/ld-linux" in head or b"/ld-musl" in head


def _unmount_under(root: Path) -> None:
    """Lazy-unmount anything dockerd/containerd left mounted below ``root``, deepest first."""
    prefix = str(root) + "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    # Field 5 is the mount point, with spaces and the like escaped as octal.
    points = [line.split()[4].encode().decode("unicode_escape") for line in lines]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


# --- Helpers for tests that need no engine --------------------------------------------------

DOCKER_VARIABLES = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS",
)


def isolate_docker_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """Point HOME and DOCKER_CONFIG at ``home``, clear the other DOCKER_* variables (restored
    after the test) and forget any DOCKER_HOST that labadvisor set aside. Returns DOCKER_CONFIG."""
    from labadvisor.contexts import kernel_env

    for name in DOCKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config_dir = home / ".docker"
    config_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    monkeypatch.setattr(kernel_env, "_set_aside", {})
    return config_dir


def write_context(config_dir: Path, name: str, host: str, description: str | None = None) -> Path:
    """Store a context exactly as ``docker context create NAME --docker host=HOST`` does."""
    metadata = {"Description": description} if description else {}
    meta = {
        "Name": name,
        "Metadata": metadata,
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
    }
    directory = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "meta.json"
    path.write_text(json.dumps(meta, separators=(",", ":")))
    return path


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (connections are refused)."""
    return free_port()


class FakeEngine:
    """The one well-behaved stand-in engine of the test suite (HostileEngine below is the
    misbehaving kind): answers /_ping, /version and /info (any API
    version prefix) on a unix socket or on TCP, with TLS if given a server context.

    ``name`` becomes the engine's ID and Name, ``gpu=True`` adds an ``nvidia`` runtime, ``info``
    replaces the whole /info answer, ``delay`` slows every answer and ``hang=True`` accepts
    connections and never answers, to exercise timeouts. ``containers`` answers
    /containers/<id>/json: a name for the id, or an HTTP status to fail with; other ids are
    404, "no such container". ``requests`` lists the paths asked for.
    """

    def __init__(
        self,
        *,
        unix_path: Path | None = None,
        name: str = "FAKE:ENGINE",
        gpu: bool = False,
        info: dict[str, Any] | None = None,
        tls: ssl.SSLContext | None = None,
        delay: float = 0.0,
        hang: bool = False,
        containers: dict[str, str | int] | None = None,
    ) -> None:
        self.name = name
        self.containers = dict(containers or {})
        self.info = info or {
            "ID": name,
            "Name": name,
            "OperatingSystem": "FakeOS",
            "OSType": "linux",
            "Architecture": "x86_64",
            "NCPU": 4,
            "MemTotal": 8 * 1024**3,
            "Runtimes": {"runc": {}, **({"nvidia": {}} if gpu else {})},
        }
        self.version = {"Version": "99.0.0-fake", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}
        self.delay = delay
        self.requests: list[str] = []
        self._listener: socket.socket | None = None
        self._server: socketserver.BaseServer | None = None
        if hang:
            family = socket.AF_UNIX if unix_path else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.bind(str(unix_path) if unix_path else ("127.0.0.1", 0))
            listener.listen(8)  # never accepted: connect succeeds, no answer ever comes
            self._listener = listener
            self.host = f"unix://{unix_path}" if unix_path else _tcp_host(listener)
            return
        handler = self._handler()
        if unix_path is not None:
            server: socketserver.BaseServer = _UnixHTTPServer(str(unix_path), handler)
            self.host = f"unix://{unix_path}"
        else:
            server = _TCPHTTPServer(("127.0.0.1", 0), handler)
            if tls is not None:
                server.socket = tls.wrap_socket(server.socket, server_side=True)
            self.host = f"tcp://127.0.0.1:{server.server_address[1]}"
        self._server = server
        threading.Thread(
            target=server.serve_forever, name=f"fake-engine-{name}", daemon=True
        ).start()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        engine = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as docker-py's connection pool expects

            def do_GET(self) -> None:
                engine.requests.append(self.path)
                time.sleep(engine.delay)
                parts = self.path.split("?", 1)[0].split("/")
                path = parts[-1]  # "/v1.41/_ping" -> "_ping"
                # "/v1.41/containers/<id>/json": a name, a status to fail with, or None
                asked = parts[-2] if parts[-3:-2] == ["containers"] and path == "json" else None
                known = engine.containers.get(asked) if asked is not None else None
                if path == "_ping":
                    body, kind = b"OK", "text/plain"
                elif path in ("version", "info"):
                    payload = engine.version if path == "version" else engine.info
                    body, kind = json.dumps(payload).encode(), "application/json"
                elif isinstance(known, str):
                    body = json.dumps({"Id": asked, "Name": f"/{known}"}).encode()
                    kind = "application/json"
                elif isinstance(known, int):
                    self.send_error(known)
                    return
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Api-Version", "1.41")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> FakeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port) address


class _TCPHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _tcp_host(listener: socket.socket) -> str:
    return f"tcp://127.0.0.1:{listener.getsockname()[1]}"


# --- Hostile engines: endpoints that misbehave the ways real ones do -------------------------

HOSTILE_KINDS = ("silent", "drip", "killed")
# Runs in its own process, so a dripping thread never competes with the code under test and
# "killed" can be a real SIGKILL. Arguments: kind, "tcp" or a unix socket path, drip interval.
_HOSTILE_SERVER = r"""
import os, signal, socket, sys, threading, time

kind, where, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
if where == "tcp":
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    host = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
else:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(where)
    host = f"unix://{where}"
listener.listen(128)
print(host, flush=True)  # only once it listens: a client may connect at once
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True


def serve(conn):
    with conn:
        try:
            if not read_request(conn):
                return
            if kind == "silent":  # read the request, never answer, hold until the client leaves
                while conn.recv(65536):
                    pass
            elif kind == "drip":  # a response that never ends, one byte per interval
                conn.sendall(HEAD + b"X-Drip: ")
                while True:
                    time.sleep(interval)
                    conn.sendall(b".")
            else:  # killed: half the headers out, then the process dies
                conn.sendall(HEAD)
                os.kill(os.getpid(), signal.SIGKILL)
        except OSError:
            pass


while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


class HostileEngine:
    """An endpoint that speaks to docker-py only to fail it, in its own process:

    - ``"silent"``: accepts, reads the request, never answers (a hung dockerd, a dead proxy);
    - ``"drip"``: answers one byte every ``interval`` seconds (1 s by default) and never
      finishes, so no single socket read ever times out;
    - ``"killed"``: sends half the response headers and is SIGKILLed mid-request; later
      connections are refused.

    On TCP 127.0.0.1 by default, or on ``unix_path``. ``host`` is its endpoint. Use as a
    context manager or call ``close()``; the ``hostile_engine`` fixture closes what it made.
    """

    def __init__(self, kind: str, *, unix_path: Path | None = None, interval: float = 1.0) -> None:
        if kind not in HOSTILE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(HOSTILE_KINDS)}, got {kind!r}")
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOSTILE_SERVER, kind, str(unix_path or "tcp"), str(interval)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.host = self.process.stdout.readline().strip()
        if not self.host:
            self.close()
            raise RuntimeError(f"the {kind} engine did not start")

    def was_killed(self, wait: float = 5.0) -> bool:
        """Whether the process died of SIGKILL (waiting up to ``wait`` s for it to be reaped:
        the client sees the connection close a moment before the parent can tell)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=wait)
        return self.process.returncode == -signal.SIGKILL

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> HostileEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def hostile_engine() -> Iterator[Any]:
    """A factory: ``hostile_engine("drip")`` starts one (keywords as HostileEngine); all of
    them are stopped after the test."""
    started: list[HostileEngine] = []

    def start(kind: str, **options: Any) -> HostileEngine:
        engine = HostileEngine(kind, **options)
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.close()


@dataclass(frozen=True)
class TLSMaterial:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        context.load_verify_locations(self.ca)
        context.verify_mode = ssl.CERT_REQUIRED  # like dockerd --tlsverify
        return context


def make_tls_material(directory: Path) -> TLSMaterial:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is missing (Debian package openssl)")
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=labadvisor test CA")  # fmt: skip
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        run("req", "-new", *ec, "-keyout", f"{who}-key.pem", "-out", f"{who}.csr",
            "-subj", f"/CN={who}")  # fmt: skip
        run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", f"{who}-cert.pem", "-days", "2",
            "-extfile", f"{who}.ext")  # fmt: skip
    return TLSMaterial(
        directory=directory,
        ca=directory / "ca.pem",
        server_cert=directory / "server-cert.pem",
        server_key=directory / "server-key.pem",
        client_cert=directory / "client-cert.pem",
        client_key=directory / "client-key.pem",
    )
