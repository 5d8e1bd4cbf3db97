"""Switching and listing Docker contexts: labadvisor.contexts against the docker CLI, one run.

Prints medians and ratios for

- the kernel-scope switch, ``use(name, check=False)``, against
  ``subprocess.run(["docker", "context", "use", name])`` (neither contacts an engine; target
  at least 20x faster), plus ``use(name)`` with its default engine check (through docker-py),
  against the tests' stand-in engine on a unix socket, for information;
- ``list_contexts()`` against ``docker context ls --format json`` (target at least 10x faster);
- ``use(name, timeout=1)`` against endpoints that never answer, drip a byte a second, or are
  killed mid-request (the tests' HostileEngine): the slowest of a few runs, which must stay
  within the deadline, 1.5 s.

Both sides work on the same temporary DOCKER_CONFIG with a realistic set of contexts, so
neither the real ~/.docker nor any engine is touched. ``docker`` is the one on PATH (what a
notebook's ``!docker`` runs) unless ``--docker`` says otherwise. Exit status 1 if a target is
missed.

    .venv/bin/python benchmarks/bench_contexts.py [--docker /usr/bin/docker] [--cli-runs 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

SWITCH_TARGET = 20.0
LIST_TARGET = 10.0
DEADLINE_S = 1.5  # use(timeout=1) returns or fails within timeout + 0.5 s
HOSTILE_RUNS = 3
CONTEXTS = {
    "docker-cloud": ("tcp://127.0.0.1:1", "Docker Offload"),
    "desktop-linux": ("unix:///var/run/docker.sock", "Docker Desktop"),
    "build-box": ("ssh://builder@build-box", ""),
    "rootless": ("unix:///run/user/1000/docker.sock", ""),
    "staging": ("tcp://10.0.0.7:2376", "staging engine"),
}
# The test suite's stand-in engine (tests/docker_engines.py), in its own process so that its
# threads do not compete with the measured calls for the GIL.
TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
ENGINE_SERVER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from docker_engines import FakeEngine
    FakeEngine(unix_path=Path(sys.argv[2]))
    print("ready", flush=True)
    threading.Event().wait()
    """
)


def write_store(config_dir: Path, engine_socket: Path) -> None:
    """Contexts in the docker CLI's own layout, plus one whose engine is the stand-in."""
    entries = {**CONTEXTS, "lab-engine": (f"unix://{engine_socket}", "stand-in engine")}
    for name, (host, description) in entries.items():
        meta = {
            "Name": name,
            "Metadata": {"Description": description} if description else {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
        }
        directory = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        directory.mkdir(parents=True)
        (directory / "meta.json").write_text(json.dumps(meta, separators=(",", ":")))
    (config_dir / "config.json").write_text(json.dumps({"auths": {}}, indent="\t"))


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def slowest_hostile_switch_s(config_dir: Path) -> dict[str, float]:
    """Seconds the slowest of HOSTILE_RUNS ``use(timeout=1)`` took, per kind of hostile engine
    (each run against a fresh one: a killed engine refuses connections afterwards)."""
    sys.path.insert(0, str(TESTS_DIR))
    from docker_engines import HOSTILE_KINDS, HostileEngine, write_context

    from labadvisor.contexts import EngineUnreachableError, use

    slowest: dict[str, float] = {}
    for kind in HOSTILE_KINDS:
        times = []
        for _ in range(HOSTILE_RUNS):
            with HostileEngine(kind) as engine:
                write_context(config_dir, "hostile", engine.host)
                start = time.perf_counter()
                try:
                    use("hostile", timeout=1)
                except EngineUnreachableError:
                    pass
                else:
                    raise RuntimeError(f"a {kind} engine was switched to")
                times.append(time.perf_counter() - start)
        slowest[kind] = max(times)
    return slowest


def list_format(docker: str, env: dict[str, str]) -> list[str]:
    """``--format json`` where the CLI has it (23+); older ones print the word "json"."""
    probe = subprocess.run(
        [docker, "context", "ls", "--format", "json"], env=env, capture_output=True, text=True
    )
    first = probe.stdout.lstrip()[:1]
    return ["--format", "json"] if first in ("{", "[") else ["--format", "{{json .}}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docker", default="docker", help="docker CLI to compare with")
    parser.add_argument("--cli-runs", type=int, default=30, help="runs of each CLI command")
    parser.add_argument("--runs", type=int, default=2000, help="runs of each labadvisor call")
    options = parser.parse_args()
    docker = shutil.which(options.docker)
    if docker is None:
        print(f"no {options.docker!r} on PATH", file=sys.stderr)
        return 2

    root = Path(tempfile.mkdtemp(prefix="la-bench-", dir="/tmp"))
    server = None
    try:
        for name in [n for n in os.environ if n.startswith("DOCKER_")]:
            del os.environ[name]
        os.environ.update(HOME=str(root), DOCKER_CONFIG=str(root / "docker"))
        engine_socket = root / "engine.sock"
        write_store(root / "docker", engine_socket)
        server = subprocess.Popen(
            [sys.executable, "-c", ENGINE_SERVER, str(TESTS_DIR), str(engine_socket)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"

        from labadvisor.contexts import list_contexts, use

        env = dict(os.environ)
        version = subprocess.run(
            [docker, "version", "--format", "{{.Client.Version}}"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        targets = ["docker-cloud", "desktop-linux"]
        flip = iter(range(10**9))

        def ours_switch() -> None:
            use(targets[next(flip) % 2], check=False)

        def cli_switch() -> None:
            subprocess.run(
                [docker, "context", "use", targets[next(flip) % 2]],
                env=env,
                capture_output=True,
                check=True,
            )

        ls_format = list_format(docker, env)

        def cli_list() -> None:
            subprocess.run(
                [docker, "context", "ls", *ls_format], env=env, capture_output=True, check=True
            )

        # Warm both sides (imports, page cache) before measuring.
        for action in (ours_switch, list_contexts, cli_switch, cli_list):
            action()
        switch_ms = median_ms(ours_switch, options.runs)
        checked_ms = median_ms(lambda: use("lab-engine"), options.runs // 4)
        list_ms = median_ms(list_contexts, options.runs)
        cli_switch_ms = median_ms(cli_switch, options.cli_runs)
        cli_list_ms = median_ms(cli_list, options.cli_runs)
        hostile_s = slowest_hostile_switch_s(root / "docker")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)

    switch_ratio, list_ratio = cli_switch_ms / switch_ms, cli_list_ms / list_ms
    print(f"docker CLI: {docker} ({version}); {len(CONTEXTS) + 1} contexts; medians")
    print(f"{'':44}{'labadvisor':>12}{'docker CLI':>12}{'ratio':>9}  target")
    rows = [
        ("kernel switch, use(check=False)", switch_ms, cli_switch_ms, switch_ratio, SWITCH_TARGET),
        ("kernel switch, use() incl. engine ping", checked_ms, cli_switch_ms,
         cli_switch_ms / checked_ms, None),
        ("list_contexts() vs context ls", list_ms, cli_list_ms, list_ratio, LIST_TARGET),
    ]  # fmt: skip
    for label, ours, theirs, ratio, target in rows:
        goal = f">= {target:g}x" if target else "(info)"
        print(f"{label:44}{ours:>10.3f}ms{theirs:>10.2f}ms{ratio:>8.0f}x  {goal}")
    for kind, seconds in hostile_s.items():
        print(f"{'use(timeout=1), ' + kind + ' engine, slowest':44}{seconds:>11.2f}s"
              f"{'':21}  <= {DEADLINE_S:g} s")  # fmt: skip
    met = (
        switch_ratio >= SWITCH_TARGET
        and list_ratio >= LIST_TARGET
        and max(hostile_s.values()) <= DEADLINE_S
    )
    print("targets met" if met else "TARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
