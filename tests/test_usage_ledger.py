"""The SQLite usage ledger on real files: migrations, crashes, concurrency, bad disks."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from usage_fixtures import python, sample

from labadvisor.usage import Batch, GpuReading, KernelSwitch, SqliteLedger, default_path, schema
from labadvisor.usage.store import _migrate

GPU = (GpuReading("GPU 0", 50, 1_000, 10_000),)


def count(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_default_path_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "labadvisor" / "usage.sqlite3"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local/share/labadvisor/usage.sqlite3"


def test_new_ledger_is_wal_with_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "usage.sqlite3"
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch((sample(600, gpus=GPU),)))
        assert ledger.schema_version() == schema.VERSION == 3
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reading_a_missing_ledger_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none" / "usage.sqlite3"
    with SqliteLedger(path) as ledger:
        assert ledger.recording_since() is None
        assert ledger.daily(0, 10**10, 10.0) == []
    assert not path.parent.exists()


def test_writes_are_idempotent_and_rollups_count_once(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    batch = Batch(tuple(sample(3600 + 60 * n, gpus=GPU) for n in range(3)))
    with SqliteLedger(path) as ledger:
        assert ledger.write(batch)
        assert ledger.write(batch)  # a retried batch
        rows = ledger.daily(0, 10**6, schema.ROLLUP_BUSY_PERCENT)
    assert count(path, "gpu_samples") == 3
    gpu = [r for r in rows if r.kind == "gpu"]
    day = dt.date.fromtimestamp(3600).isoformat()
    assert [(r.day, r.seconds, r.busy_seconds, r.peak) for r in gpu] == [(day, 180.0, 180.0, 1000)]


def test_migration_from_version_1_backfills_the_rollup(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        _migrate(connection, target=1)  # a ledger written by the first release
        connection.executemany(
            "INSERT INTO ticks VALUES ('host', ?, 'alice', 60)",
            [(7200 + 60 * n,) for n in range(4)],
        )
        connection.executemany(
            "INSERT INTO gpu_samples VALUES ('host', 'GPU 0', ?, 'alice', 60, ?, ?, NULL)",
            [(7200 + 60 * n, util, 10 * n) for n, util in enumerate((0, 5, 10, 90))],
        )
        connection.execute(
            "INSERT INTO offload_samples VALUES ('host', 7200, 'alice', 60, 'started', 'plugin', 1)"
        )
        assert connection.execute("SELECT version FROM schema_version").fetchone()[0] == 1
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch((sample(7440, gpus=(GpuReading("GPU 0", 50, 5, None),)),)))
        assert ledger.schema_version() == 3
        rows = {(r.kind, r.key): r for r in ledger.daily(0, 10**6, 10.0)}
        assert len({r.day for r in rows.values()}) == 1
    assert (rows["tick", ""].seconds, rows["tick", ""].busy_seconds) == (300.0, 0.0)
    assert (rows["gpu", "GPU 0"].seconds, rows["gpu", "GPU 0"].busy_seconds) == (300.0, 180.0)
    assert rows["gpu", "GPU 0"].peak == 30
    assert rows["offload", "plugin"].busy_seconds == 60.0
    assert integrity(path) == "ok"


def test_a_newer_schema_is_refused_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "usage.sqlite3"
    with SqliteLedger(path) as ledger:
        ledger.write(Batch())
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE schema_version SET version = 99")
        connection.commit()
    with SqliteLedger(path) as ledger:
        assert not ledger.write(Batch((sample(60),)))
        assert not ledger.write(Batch((sample(120),)))
    assert len(warnings_of(caplog)) == 1
    assert "schema version 99 is newer" in warnings_of(caplog)[0]


def test_corrupt_file_is_moved_aside_and_a_fresh_ledger_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch((sample(60, gpus=GPU),)))
    [aside] = tmp_path.glob("usage.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not an SQLite database")
    [message] = warnings_of(caplog)
    assert str(aside) in message and str(path) in message
    assert count(path, "gpu_samples") == 1 and integrity(path) == "ok"


def test_retention_deletes_old_samples_and_their_rollups(tmp_path: Path) -> None:
    now = 200 * 86400
    days_ago = (100, 91, 89, 1)
    with SqliteLedger(tmp_path / "usage.sqlite3") as ledger:
        ledger.write(Batch(tuple(sample(now - d * 86400, gpus=GPU) for d in days_ago)))
        old_switch = KernelSwitch(
            now - 95 * 86400, "alice", "host", "k1", "docker-cloud", "offload"
        )
        older_switch = KernelSwitch(now - 99 * 86400, "alice", "host", "k2", "default", "local")
        newer_switch = KernelSwitch(now - 98 * 86400, "alice", "host", "k2", "remote-x", "remote")
        ledger.write(Batch(switches=(old_switch, older_switch, newer_switch)))
        deleted = ledger.prune(90, now=now)
        today = dt.date.fromtimestamp(now)
        left = sorted(
            (today - dt.date.fromisoformat(r.day)).days
            for r in ledger.daily(0, now + 1, 10)
            if r.kind == "gpu"
        )
        assert ledger.recording_since() == now - 89 * 86400
        # A kernel's latest switch stays however old: it may still be in force.
        assert ledger.kernel_contexts("host", ["k1", "k2"]) == {
            "k1": ("docker-cloud", "offload"),
            "k2": ("remote-x", "remote"),
        }
    assert left == [1, 89]
    # ticks + gpu rows, two rollup rows each, one switch; the lab rollups (schema 3): one
    # hourly and one per-minute row for each of the two ticks
    assert deleted == 2 * 2 + 2 * 2 + 1 + 2 * 2


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` read-only for this process: a read-only bind mount as root, else modes."""
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], check=False)
        if mounted.returncode:
            pytest.skip("root, but cannot bind-mount here")
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(directory)], check=True, capture_output=True
        )
        try:
            yield
        finally:
            subprocess.run(["umount", str(directory)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in [directory, *directory.iterdir()]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)


def test_read_only_disk_one_warning_then_the_kept_rows_are_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    path = directory / "usage.sqlite3"
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch((sample(60),)))
    ledger = SqliteLedger(path)
    with read_only(directory):
        assert not ledger.write(Batch((sample(120),)))
        assert not ledger.write(Batch((sample(180),)))
        assert ledger.paused_reason
    assert ledger.write(Batch((sample(240),)))  # the disk takes writes again
    ledger.close()
    [message] = warnings_of(caplog)
    assert str(path) in message and "written when the disk takes them again" in message
    assert count(path, "ticks") == 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 300 KiB tmpfs, to fill up (needs root)."""
    directory = tmp_path / "small"
    directory.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(directory)], check=False
    )
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_full_disk_one_warning_then_retry(small_disk: Path, caplog: pytest.LogCaptureFixture):
    path = small_disk / "usage.sqlite3"
    ledger = SqliteLedger(path)
    gpus = tuple(GpuReading(f"GPU {n}", 50, 10**9, 10**10) for n in range(8))
    ts, written = 0, []
    for _ in range(500):
        batch = Batch(tuple(sample(60 * (ts + n), gpus=gpus) for n in range(20)))
        ts += 20
        written.append(ledger.write(batch))
        if not written[-1] and written[-3:] == [False] * 3:
            break
    assert True in written and written[-1] is False, "the disk never filled up"
    assert len(warnings_of(caplog)) == 1
    assert "full" in warnings_of(caplog)[0]
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    assert ledger.write(Batch((sample(60 * ts),)))
    ledger.close()
    assert count(path, "ticks") == ts + 1  # the batches kept during the outage too
    assert integrity(path) == "ok"


WRITER = """
import logging, os, sys, time
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from labadvisor.usage import Batch, GpuReading, KernelSwitch, Sample, SqliteLedger
path, server, batches, size, ready, writers = {args}
ledger = SqliteLedger(path)  # connects (and creates or migrates) on the first write
gpus = tuple(GpuReading(f"GPU {{n}}", 50, 10**9, 10**10) for n in range(4))
if writers:  # a barrier: every writer has imported everything before any writes
    open(os.path.join(ready, server), "w").close()
    deadline = time.time() + 60
    while len(os.listdir(ready)) < writers and time.time() < deadline:
        time.sleep(0.001)
first = time.time()
for b in range(batches):
    samples = tuple(
        Sample(60 * (b * size + n), 60.0, "alice", server, gpus) for n in range(size)
    )
    switch = KernelSwitch(time.time(), "alice", server, f"k{{b}}", "docker-cloud", "offload")
    ok = ledger.write(Batch(samples, (switch,)))
    print("ok" if ok else "kept", flush=True)
print("span", first, time.time(), flush=True)
ledger.close()
"""


def writer(
    path: Path, server: str, batches: int, size: int, ready: Path | None = None, writers: int = 0
) -> str:
    args = (str(path), server, batches, size, str(ready), writers)
    return textwrap.dedent(WRITER).format(args=repr(args))


def test_eight_processes_write_at_once_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"  # not there yet: all eight create it at once
    ready = tmp_path / "ready"
    ready.mkdir()
    processes = [python(writer(path, f"server-{n}", 25, 10, ready, 8)) for n in range(8)]
    results = [p.communicate(timeout=120) for p in processes]
    spans = []
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        *oks, span = out.splitlines()
        assert oks == ["ok"] * 25
        spans.append([float(t) for t in span.split()[1:]])
        assert "locked" not in err and "WARNING" not in err and "ERROR" not in err, err
    assert max(first for first, _ in spans) < min(last for _, last in spans), "no overlap"
    assert count(path, "ticks") == 8 * 25 * 10
    assert count(path, "gpu_samples") == 8 * 25 * 10 * 4
    assert count(path, "kernel_contexts") == 8 * 25
    assert integrity(path) == "ok"


def test_kill_9_in_the_middle_of_writes_leaves_a_usable_ledger(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    process = python(writer(path, "victim", 100_000, 200))
    assert process.stdout is not None
    committed = 0
    for line in process.stdout:  # let it commit a few batches, then kill it mid-stream
        committed += line.strip() == "ok"
        if committed == 5:
            break
    time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert integrity(path) == "ok"
    ticks = count(path, "ticks")
    assert ticks >= 5 * 200 and ticks % 200 == 0  # whole batches only
    with contextlib.closing(sqlite3.connect(path)) as connection:  # the rollup agrees
        rolled = connection.execute(
            "SELECT sum(seconds) FROM usage_hourly WHERE kind = 'tick'"
        ).fetchone()[0]
    assert rolled == ticks * 60
    with SqliteLedger(path) as ledger:  # the next start keeps using it
        assert ledger.write(Batch((sample(10**9, server="next"),)))
    assert count(path, "ticks") == ticks + 1
    assert not list(tmp_path.glob("*.corrupt-*"))
