"""Latency of labadvisor's status-bar routes next to jupyter-resource-usage's, on one server.

Starts one Jupyter server with the labadvisor and jupyter-resource-usage extensions, then
sends GET requests from 20 concurrent keep-alive clients to

    /labadvisor/api/gpu   /labadvisor/api/gpu/processes   /labadvisor/api/contexts
    /labadvisor/api/usage   /api/metrics/v1 (jupyter-resource-usage)

and prints p50 / p99 latency of each and the ratio to the metrics endpoint, from one run.
The endpoints take turns in several rounds so drift on a shared machine hits all alike.
The Docker context store is a temporary one with three contexts (no engine is contacted);
the usage ledger a temporary SQLite file that the server's sampler writes every minute, as
by default (so GET usage reads a ledger being written).

Then a mixed load with a hung engine present: 50 clients for 20 s, each request bounded by a
timeout. A few clients keep switching (PUT contexts/current) to a context whose engine
accepts connections and never answers; the others mix GET gpu, GET contexts, POST
advise/runtime and the metrics endpoint. A switch must end in 502 (the engine did not
answer) or 503 (engine checks busy); everything else in 200. Any other status, a body that
is not strict JSON, a timeout or a dropped connection is an error: the target is 0 errors,
with p99 of each route printed beside the metrics endpoint's from the same load.

    .venv/bin/python benchmarks/bench_server_api.py [--clients 20] [--requests 40] [--rounds 3]
        [--mixed-clients 50] [--mixed-seconds 20] [--switchers 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROUTES = {
    "labadvisor gpu": "/labadvisor/api/gpu",
    "labadvisor gpu/processes": "/labadvisor/api/gpu/processes",
    "labadvisor contexts": "/labadvisor/api/contexts",
    "labadvisor usage": "/labadvisor/api/usage",
    "resource-usage metrics": "/api/metrics/v1",
}
BASELINE = "resource-usage metrics"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HungEngine:
    """A TCP endpoint that accepts connections and never answers (held open until closed)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.host = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for connection in self.held:
            connection.close()


def write_docker_config(root: Path, hung_host: str) -> Path:
    """A DOCKER_CONFIG with a local, an offload, a remote and a hung context, in Docker's
    own layout."""
    config = root / "docker"
    contexts = {
        "desktop-linux": "unix:///var/run/docker.sock",
        "docker-cloud": "tcp://127.0.0.1:1",
        "build-box": "ssh://builder@build-box",
        "hung": hung_host,
    }
    for name, host in contexts.items():
        meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True)
        (meta / "meta.json").write_text(
            json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host}}})
        )
    (config / "config.json").write_text(json.dumps({"currentContext": "desktop-linux"}))
    return config


def start_server(root: Path, port: int, token: str, hung_host: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DOCKER_CONFIG=str(write_docker_config(root, hung_host)),
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_DATA_DIR=str(root / "data"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        XDG_DATA_HOME=str(root / "xdg-data"),
    )
    env.pop("LABADVISOR_USAGE_URL", None)
    env.pop("DOCKER_CONTEXT", None)
    env.pop("DOCKER_HOST", None)
    (root / "config").mkdir()
    extensions = {"labadvisor": True, "jupyter_resource_usage": True}
    (root / "config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": extensions}})
    )
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.log_level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = (root / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def get_json(port: int, token: str, path: str) -> object:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_until_up(port: int, token: str, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"server exited:\n{(root / 'server.log').read_text()}")
        try:
            get_json(port, token, "/api/status")
            break
        except OSError:
            time.sleep(0.2)
    else:
        sys.exit("server did not start within 60 s")
    # Measure real answers, not errors: the store's contexts must all be there.
    listed = get_json(port, token, ROUTES["labadvisor contexts"])
    names = sorted(c["name"] for c in listed["contexts"])  # type: ignore[index]
    if names != ["build-box", "default", "desktop-linux", "docker-cloud", "hung"]:
        sys.exit(f"unexpected contexts answer: {listed}")


class Client:
    """One keep-alive HTTP/1.1 connection, one request at a time (like a browser tab)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> float:
        status, elapsed, body = await self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
        return elapsed

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, float, bytes]:
        """(status, seconds, body) of one request on this connection."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        request = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: token {self.token}\r\nConnection: keep-alive\r\n"
            + (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else "")
            + "\r\n"
        ).encode() + body
        started = time.perf_counter()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        return int(head.split(b" ", 2)[1]), time.perf_counter() - started, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(clients: list[Client], path: str, requests: int) -> list[float]:
    """Every client sends ``requests`` GETs back to back, all clients at once."""

    async def one(client: Client) -> list[float]:
        return [await client.get(path) for _ in range(requests)]

    results = await asyncio.gather(*(one(c) for c in clients))
    return [t for result in results for t in result]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def measure(port: int, token: str, n_clients: int, requests: int, rounds: int) -> bool:
    """Print the table; True when every labadvisor route is no slower than the baseline."""
    clients = [Client(port, token) for _ in range(n_clients)]
    try:
        for path in ROUTES.values():  # warm-up: connections, imports, GPU probe, caches
            await load(clients, path, 3)
        samples: dict[str, list[float]] = {name: [] for name in ROUTES}
        names = list(ROUTES)
        for round_ in range(rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                samples[name] += await load(clients, ROUTES[name], requests)
    finally:
        for client in clients:
            client.close()

    base50 = percentile(samples[BASELINE], 50)
    base99 = percentile(samples[BASELINE], 99)
    print(f"{n_clients} concurrent clients, {requests} requests each, {rounds} rounds")
    print(
        f"{'endpoint':<26} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10} {'p99 ratio':>10}"
    )
    slower: list[str] = []
    for name, values in samples.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        ratios = {"p50": p50 / base50, "p99": p99 / base99}
        print(
            f"{name:<26} {len(values):>6} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f}"
            f" {ratios['p50']:>10.2f} {ratios['p99']:>10.2f}"
        )
        slower += [f"{name} {label} {ratio:.2f}" for label, ratio in ratios.items() if ratio > 1.0]
    print(f"(ratio = latency / {BASELINE} latency; at most 1.00 means no slower)")
    print("target met: no slower than the baseline" if not slower else "TARGET MISSED:")
    for line in slower:
        print(f"  {line}")
    return not slower


# --- mixed load with a hung engine -----------------------------------------------------

ADVICE_BODY = json.dumps({"model_size_gb": 7, "workload": "code-review", "gpu": 24}).encode()
SWITCH_BODY = json.dumps({"name": "hung"}).encode()
# (label, method, path, body, statuses that are answers rather than errors)
MIXED = [
    ("labadvisor gpu", "GET", "/labadvisor/api/gpu", b"", {200}),
    ("labadvisor gpu/processes", "GET", "/labadvisor/api/gpu/processes", b"", {200}),
    ("labadvisor contexts", "GET", "/labadvisor/api/contexts", b"", {200}),
    ("labadvisor usage", "GET", "/labadvisor/api/usage", b"", {200}),
    ("labadvisor advise/runtime", "POST", "/labadvisor/api/advise/runtime", ADVICE_BODY, {200}),
    (BASELINE, "GET", ROUTES[BASELINE], b"", {200}),
]
SWITCH = ("switch to hung engine", "PUT", "/labadvisor/api/contexts/current", SWITCH_BODY)
SWITCH_ANSWERS = {502, 503}
REQUEST_TIMEOUT = 30.0  # a request not answered by then counts as an error


def _strict_json(raw: bytes) -> bool:
    def refuse(name: str) -> object:
        raise ValueError(name)

    try:
        json.loads(raw, parse_constant=refuse)
    except ValueError:
        return False
    return True


async def mixed_load(port: int, token: str, n_clients: int, seconds: float, switchers: int) -> bool:
    """Print the mixed-load table; True when there were no errors."""
    samples: dict[str, list[float]] = {label: [] for label, *_ in MIXED}
    samples[SWITCH[0]] = []
    statuses: dict[str, dict[int, int]] = {label: {} for label in samples}
    errors: list[str] = []
    ends = time.monotonic() + seconds

    async def client(number: int) -> None:
        connection = Client(port, token)
        plan: Iterator[tuple[str, str, str, bytes, set[int]]]
        if number < switchers:
            plan = itertools.repeat((*SWITCH, SWITCH_ANSWERS))
        else:
            plan = itertools.cycle(MIXED[number % len(MIXED) :] + MIXED[: number % len(MIXED)])
        try:
            for label, method, path, body, expected in plan:
                if time.monotonic() >= ends:
                    return
                try:
                    status, elapsed, answer = await asyncio.wait_for(
                        connection.request(method, path, body), REQUEST_TIMEOUT
                    )
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                    errors.append(f"{label}: {type(exc).__name__} {exc}")
                    connection.close()
                    connection = Client(port, token)
                    continue
                statuses[label][status] = statuses[label].get(status, 0) + 1
                samples[label].append(elapsed)
                if status not in expected:
                    errors.append(f"{label}: HTTP {status} {answer[:200]!r}")
                elif not _strict_json(answer):
                    errors.append(f"{label}: not strict JSON {answer[:200]!r}")
        finally:
            connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(n_clients)))
    took = time.monotonic() - started

    base99 = percentile(samples[BASELINE], 99)
    print()
    print(
        f"mixed load: {n_clients} clients for {seconds:g} s ({took:.1f} s with the last "
        f"answers), {switchers} of them switching to an engine that never answers"
    )
    print(f"{'route':<28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99 ratio':>10}  statuses")
    for label, values in samples.items():
        if len(values) < 2:
            print(f"{label:<28} {len(values):>6}  (too few answers)  {statuses[label]}")
            continue
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(
            f"{label:<28} {len(values):>6} {p50 * 1e3:>8.2f} {p99 * 1e3:>8.2f}"
            f" {p99 / base99:>10.2f}  {dict(sorted(statuses[label].items()))}"
        )
    print(f"(p99 ratio = p99 / {BASELINE} p99 under the same load)")
    print(f"errors: {len(errors)}")
    for line in errors[:20]:
        print(f"  {line}")
    print("target met: 0 errors" if not errors else "TARGET MISSED: errors above")
    return not errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=40, help="per client and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixed-clients", type=int, default=50)
    parser.add_argument("--mixed-seconds", type=float, default=20.0)
    parser.add_argument("--switchers", type=int, default=5, help="mixed-load clients switching")
    args = parser.parse_args()
    token = os.urandom(16).hex()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="labadvisor-bench-") as tmp:
        root = Path(tmp)
        hung = HungEngine()
        server = start_server(root, port, token, hung.host)
        try:
            wait_until_up(port, token, server, root)
            met = asyncio.run(measure(port, token, args.clients, args.requests, args.rounds))
            clean = asyncio.run(
                mixed_load(port, token, args.mixed_clients, args.mixed_seconds, args.switchers)
            )
            met = met and clean
        finally:
            hung.close()
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
