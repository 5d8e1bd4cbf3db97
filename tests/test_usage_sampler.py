"""UsageSampler with injected sources, kernel switches, and the JSON-first Offload reader."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from offload_plugin import install_offload_plugin

from labadvisor.usage import (
    GpuReading,
    HolderReading,
    OffloadState,
    OffloadStatusReader,
    UsageSampler,
    record_kernel_context,
)
from labadvisor.usage.offload_status import parse_json, parse_plain
from labadvisor.usage.records import Identity

WHO = Identity("alice", "host")


def offload(state: str | None) -> OffloadState | None:
    if state is None:  # no plugin
        return OffloadState(False, "not installed", None, message="", output="", format="none")
    return OffloadState(True, state, None, message="", output="", format="json")


def test_plugin_that_fails_is_not_an_answer() -> None:
    failing = OffloadStatusReader(
        runner=lambda a, t: completed(1, err="Docker Desktop is not running")
    )
    state = failing.read()
    assert (state.installed, state.state, state.answered, state.billable) == (
        True,
        "error",
        False,
        False,
    )


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def ticks(path: Path) -> int:
    [(found,)] = rows(path, "SELECT count(*) FROM ticks")
    assert isinstance(found, int)
    return found


def make(path: Path, **kwargs: object) -> UsageSampler:
    defaults: dict[str, object] = {
        "read_gpus": lambda: [GpuReading("GPU 0", 42, 7, 10)],
        "read_context": lambda: ("default", "local"),
        "read_offload": lambda: offload(None),
        "who": WHO,
    }
    return UsageSampler(path, **{**defaults, **kwargs})  # type: ignore[arg-type]


def test_one_tick_records_every_source_on_the_interval_grid(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    holders = [HolderReading("GPU 0", "train.ipynb", 5, "k1")]
    sampler = make(path, read_holders=lambda: holders, interval_s=60)
    taken = sampler.sample_once(now=1_000_059.9)
    sampler.stop()
    assert taken.ts == 1_000_020 and taken.seconds == 60.0  # on the minute grid
    assert rows(path, "SELECT gpu, ts, user_name, server_name, utilization FROM gpu_samples") == [
        ("GPU 0", 1_000_020, "alice", "host", 42.0)
    ]
    assert rows(path, "SELECT holder, memory_used FROM holder_samples") == [("train.ipynb", 5)]
    assert rows(path, "SELECT scope, context, role FROM context_samples") == [
        ("server", "default", "local")
    ]
    assert rows(path, "SELECT * FROM offload_samples") == []  # local context, no plugin


@pytest.mark.parametrize(
    ("server_role", "plugin_state", "expected"),
    [
        ("offload", None, ("unknown", "context", 1)),  # no plugin: upper bound from context
        ("local", None, None),
        ("local", "started", ("started", "plugin", 1)),
        ("offload", "idle", ("idle", "plugin", 0)),
        ("local", "stopped", None),
        ("offload", "stopped", ("stopped", "plugin", 0)),
        ("local", "starting", ("starting", "plugin", 1)),  # unfamiliar states are counted
        ("offload", "error", ("unknown", "context", 1)),  # the plugin did not answer
        ("local", "error", None),
    ],
)
def test_offload_state_and_upper_bound(
    tmp_path: Path, server_role: str, plugin_state: str | None, expected: tuple[object, ...] | None
) -> None:
    path = tmp_path / "usage.sqlite3"
    sampler = make(
        path,
        read_context=lambda: ("ctx", server_role),
        read_offload=lambda: offload(plugin_state),
    )
    sampler.sample_once(now=600)
    sampler.stop()
    found = rows(path, "SELECT state, source, billable FROM offload_samples")
    assert found == ([] if expected is None else [expected])


def test_kernels_own_contexts_come_from_their_recorded_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.sqlite3"
    monkeypatch.setattr("labadvisor.usage.sampler.identity", lambda: WHO)
    assert record_kernel_context("k1", "docker-cloud", "offload", ledger=path, now=100)
    assert record_kernel_context("k2", "remote-x", "remote", ledger=path, now=100)
    assert record_kernel_context("k2", None, None, ledger=path, now=200)  # back to the server's
    assert record_kernel_context("k3", "docker-cloud", "offload", ledger=path, now=100)
    sampler = make(path, live_kernels=lambda: ["k1", "k2"])  # k3 has shut down
    sampler.sample_once(now=600)
    sampler.stop()
    assert rows(path, "SELECT scope, context, role FROM context_samples ORDER BY scope") == [
        ("kernel:k1", "docker-cloud", "offload"),
        ("server", "default", "local"),
    ]
    # The kernel on Offload, and no plugin to ask: an upper bound.
    assert rows(path, "SELECT source FROM offload_samples") == [("context",)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "x", "local"), "kernel_id must be a non-empty string, got ''"),
        (("k", "", "local"), "context must be a context name or None, got ''"),
        (("k", "x", "cloud"), "role must be one of local, offload, remote or None, got 'cloud'"),
    ],
)
def test_record_kernel_context_rejects_bad_values(args: tuple[str, str, str], message: str):
    with pytest.raises(ValueError, match=message):
        record_kernel_context(*args, ledger="/nonexistent/never-written.sqlite3")


def test_a_failing_source_skips_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"

    def broken() -> list[GpuReading]:
        raise RuntimeError("NVML went away")

    sampler = make(path, read_gpus=broken)
    sampler.sample_once(now=600)
    sampler.stop()
    assert sampler.errors == {"gpus": "RuntimeError: NVML went away"}
    assert rows(path, "SELECT count(*) FROM ticks") == [(1,)]
    assert rows(path, "SELECT count(*) FROM context_samples") == [(1,)]


def test_thread_samples_on_the_grid_and_stop_joins_it(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    sampler = make(path, interval_s=0.05)
    before = {t.ident for t in threading.enumerate()}
    sampler.start()
    sampler.start()  # a second start is a no-op
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # not created yet
            if path.exists() and ticks(path) >= 3:
                break
        time.sleep(0.02)
    sampler.stop()
    assert not sampler.running
    assert {t.ident for t in threading.enumerate()} <= before  # no thread left behind
    assert ticks(path) >= 3


def test_first_tick_prunes_by_retention(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    now = 400 * 86400.0
    old = make(path)
    old.sample_once(now=now - 10 * 86400)
    old.stop()
    sampler = make(path, retention_days=5)
    sampler.sample_once(now=now)
    sampler.stop()
    assert rows(path, "SELECT ts FROM ticks") == [(int(now),)]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "60", True])
def test_interval_must_be_positive(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match=f"interval_s must be .*greater than 0, got {bad!r}"):
        UsageSampler(tmp_path / "u.sqlite3", interval_s=bad)  # type: ignore[arg-type]


# --- docker offload status ---------------------------------------------------------------


def test_parse_json_finds_state_and_gpu_at_any_level() -> None:
    assert parse_json('{"State": "Started", "GPU": "NVIDIA L4"}') == ("started", "NVIDIA L4")
    assert parse_json('{"session": {"status": "idle", "gpu": true}}') == ("idle", "yes")
    assert parse_json('[{"state": "stopped"}]') == ("stopped", None)
    assert parse_json("State: started") is None
    assert parse_json('{"nothing": 1}') is None
    assert parse_plain("State: Started\nGPU: none\n") == ("started", None)


def completed(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, out, err)


def test_reader_uses_json_and_falls_back_to_plain_once() -> None:
    calls: list[list[str]] = []

    def old_plugin(arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)
        if "--format" in arguments:
            return completed(1, err="unknown flag: --format")
        return completed(0, "State: idle\nGPU: NVIDIA L4\n")

    reader = OffloadStatusReader(runner=old_plugin)
    first, second = reader.read(), reader.read()
    assert (first.state, first.gpu, first.format, first.billable) == (
        "idle",
        "NVIDIA L4",
        "plain",
        False,
    )
    assert second.format == "plain"
    assert calls == [
        ["offload", "status", "--format", "json"],
        ["offload", "status"],
        ["offload", "status"],  # the JSON attempt is not repeated
    ]

    reader = OffloadStatusReader(runner=lambda a, t: completed(0, '{"state": "started"}'))
    state = reader.read()
    assert (state.installed, state.state, state.format, state.billable) == (
        True,
        "started",
        "json",
        True,
    )


def test_reader_takes_a_state_line_whatever_the_exit_status() -> None:
    calls: list[list[str]] = []

    def quirky(arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)  # ignores --format, and exits 1 when no session runs
        return completed(1, "State: stopped\n")

    state = OffloadStatusReader(runner=quirky).read()
    assert (state.installed, state.state, state.format, state.answered) == (
        True, "stopped", "plain", True,
    )  # fmt: skip
    assert calls == [["offload", "status", "--format", "json"]]  # its answer was already there

    failing = OffloadStatusReader(runner=lambda a, t: completed(1, err="Status: 500 from API"))
    assert failing.read().state == "error"  # no State line: not an answer


def test_reader_without_plugin_asks_again_only_after_a_while() -> None:
    calls: list[list[str]] = []
    clock = [0.0]

    def no_plugin(arguments: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)
        return completed(1, err="docker: 'offload' is not a docker command.")

    reader = OffloadStatusReader(runner=no_plugin, recheck_missing_s=600, clock=lambda: clock[0])
    assert reader.read().state == "not installed"
    clock[0] = 599
    assert not reader.read().installed
    assert len(calls) == 1
    clock[0] = 601
    reader.read()
    assert len(calls) == 2


@pytest.mark.skipif(not os.access("/usr/bin/docker", os.X_OK), reason="no docker CLI (docker.io)")
def test_reader_through_the_real_docker_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    config = tmp_path / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    # A context named by an earlier test's switch does not exist in this config, and the CLI
    # would refuse to run any command, the plugin's included.
    for variable in ("DOCKER_CONTEXT", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(variable, raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to("/usr/bin/docker")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert shutil.which("docker") == str(bin_dir / "docker")
    # The docker CLI can take seconds to start on a loaded machine; this test is about what
    # it answers, so it waits longer than the reader's default 10 s.
    missing = OffloadStatusReader(timeout=120).read()
    assert missing.state == "not installed", missing.message
    install_offload_plugin(config)
    state = OffloadStatusReader(timeout=120).read()
    assert (state.installed, state.state, state.gpu, state.format) == (
        True,
        "started",
        "NVIDIA L4",
        "json",
    )
