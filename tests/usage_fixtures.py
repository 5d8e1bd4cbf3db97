"""Helpers for the usage-ledger tests: samples on a minute grid, and writer processes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from labadvisor.usage import Batch, GpuReading, OffloadReading, Sample, SqliteLedger

REPO = Path(__file__).resolve().parents[1]


def at(text: str) -> float:
    """Local time "YYYY-MM-DD HH:MM" as a Unix time."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").timestamp()


def minutes(start: str, count: int) -> Iterator[int]:
    first = int(at(start))
    return (first + 60 * n for n in range(count))


def sample(
    ts: int,
    *,
    server: str = "host",
    gpus: tuple[GpuReading, ...] = (),
    offload: OffloadReading | None = None,
) -> Sample:
    return Sample(ts, 60.0, "alice", server, gpus, (), (), offload)


def python(code: str) -> subprocess.Popen[str]:
    """A Python process running ``code`` against this checkout's labadvisor (pipes open)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def days_ago_at_noon(days: int) -> int:
    """Local noon ``days`` calendar days before today, as a Unix time."""
    day = dt.date.today() - dt.timedelta(days=days)
    return int(dt.datetime.combine(day, dt.time(12, 0)).timestamp())


def write_measured_ledger(
    data_home: Path, *, days_ago: int = 9, gpu_minutes: int = 120, offload_minutes: int = 60
) -> Path:
    """The default ledger under ``data_home`` (an XDG_DATA_HOME): from local noon
    ``days_ago`` days back, ``gpu_minutes`` with GPU 0 at 90 % then ``offload_minutes`` of
    a started Offload session. Its measured hours a day are
    (gpu_minutes + offload_minutes) / 60 / (days_ago + 1): the days recorded, today included."""
    path = data_home / "labadvisor" / "usage.sqlite3"
    busy = (GpuReading("GPU 0", 90.0, 10**9, 10**10),)
    started = OffloadReading("started", "plugin", True)
    first = days_ago_at_noon(days_ago)
    samples = [sample(first + 60 * n, gpus=busy) for n in range(gpu_minutes)]
    then = first + 60 * gpu_minutes
    samples += [sample(then + 60 * n, offload=started) for n in range(offload_minutes)]
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch(tuple(samples)))
    return path
