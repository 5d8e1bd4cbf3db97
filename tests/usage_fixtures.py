"""Helpers for the usage-ledger tests: samples on a minute grid, and writer processes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from labadvisor.usage import GpuReading, OffloadReading, Sample

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
