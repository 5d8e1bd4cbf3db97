"""The usage ledger's two costs: sampling in the background, and summarising a year.

    .venv/bin/python benchmarks/bench_usage.py [--samples 300] [--keep PATH]

1. CPU of one sampler tick (fake, instant GPU readings for 4 GPUs; the real Docker context
   lookup; the real SQLite write of the tick), expressed as a share of one core at the
   default 60 s interval. ``docker offload status`` runs in a child process and is not
   counted (about one docker CLI start per minute where the plugin is installed).
2. ``summary(days=365)`` over a year of per-minute samples for 4 GPUs (about 2.1 million GPU
   rows, 2.6 million rows in all), beside the same per-day aggregation done by
   ``pandas.read_sql`` + ``groupby`` on the same file, and beside plain SQL over the raw
   samples (what the hourly rollup saves).

Targets: sampling under 0.5 % of a core; the summary under 200 ms. Exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from labadvisor.usage import (
    Batch,
    GpuReading,
    OffloadState,
    SqliteLedger,
    UsageSampler,
    UsageSummary,
    summary,
)
from labadvisor.usage.records import Identity

GPUS = 4
DAYS = 365
INTERVAL = 60


def sampling_cost(directory: Path, count: int) -> float:
    """CPU seconds per tick."""
    readings = [GpuReading(f"GPU {n}", 37, 5 * 10**9, 24 * 10**9) for n in range(GPUS)]
    sampler = UsageSampler(
        directory / "sampling.sqlite3",
        read_gpus=lambda: readings,
        read_offload=lambda: OffloadState(True, "idle", None, "json", ""),
        who=Identity("bench", "bench-host"),
    )
    start = time.time()
    sampler.sample_once(now=start)  # warm: creating the file and schema is not a tick's cost
    cpu0 = time.process_time()
    for n in range(1, count + 1):
        sampler.sample_once(now=start + n * INTERVAL)
    per_tick = (time.process_time() - cpu0) / count
    sampler.stop()
    return per_tick


def year_of_rows(end: int) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """A day at a time: ticks, GPU samples (a working-hours pattern), Offload ~2 h a day."""
    rng = random.Random(15)
    first = (end - DAYS * 86400) // INTERVAL * INTERVAL
    for day in range(DAYS):
        day_start = first + day * 86400
        stamps = range(day_start, day_start + 86400, INTERVAL)
        yield "INSERT INTO ticks VALUES ('host', ?, 'bench', 60, 4, 4)", [(ts,) for ts in stamps]
        gpu_rows: list[tuple[object, ...]] = []
        for ts in stamps:
            working = 9 <= (ts % 86400) // 3600 < 18
            for gpu in range(GPUS):
                util = rng.randint(20, 100) if working and rng.random() < 0.6 else 0
                gpu_rows.append((f"GPU {gpu}", ts, util, rng.randint(1, 20) * 10**9))
        yield (
            "INSERT INTO gpu_samples VALUES ('host', ?, ?, 'bench', 60, ?, ?, 24000000000)",
            gpu_rows,
        )
        offload_start = day_start + 14 * 3600
        yield (
            "INSERT INTO offload_samples VALUES ('host', ?, 'bench', 60, ?, 'plugin', ?)",
            [
                (ts, "started" if n < 120 else "idle", int(n < 120))
                for n, ts in enumerate(range(offload_start, offload_start + 150 * 60, 60))
            ],
        )


def build_year(path: Path, end: int) -> tuple[int, float]:
    """Fill ``path`` (through the rollup triggers); rows written and seconds taken."""
    with SqliteLedger(path) as ledger:
        ledger.write(Batch())  # creates the file with the current schema
    started = time.perf_counter()
    total = 0
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN")
        for sql, rows in year_of_rows(end):
            connection.executemany(sql, rows)
            total += len(rows)
        connection.execute("COMMIT")
    return total, time.perf_counter() - started


def timed(action: Callable[[], object], runs: int = 5) -> tuple[float, object]:
    action()  # warm the page cache
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def pandas_summary(path: Path, since: int, until: int) -> float:
    """The same per-day figures with pandas.read_sql + groupby over the raw samples."""
    import pandas as pd

    with contextlib.closing(sqlite3.connect(path)) as connection:
        gpu = pd.read_sql(
            "SELECT gpu, ts, seconds, utilization, memory_used FROM gpu_samples "
            "WHERE ts >= ? AND ts < ?",
            connection,
            params=(since, until),
        )
        ticks = pd.read_sql(
            "SELECT ts, seconds FROM ticks WHERE ts >= ? AND ts < ?",
            connection,
            params=(since, until),
        )
        offload = pd.read_sql(
            "SELECT ts, seconds, billable FROM offload_samples WHERE ts >= ? AND ts < ?",
            connection,
            params=(since, until),
        )
    day = lambda frame: pd.to_datetime(frame["ts"], unit="s").dt.date  # noqa: E731
    gpu["busy"] = gpu["seconds"].where(gpu["utilization"] >= 10, 0.0)
    busy = gpu.groupby(day(gpu))["busy"].sum() / 3600
    by_gpu = gpu.groupby("gpu")["busy"].sum() / 3600
    peak = gpu.groupby("gpu")["memory_used"].max()
    sampled = ticks.groupby(day(ticks))["seconds"].sum() / 3600
    offload["billed"] = offload["seconds"] * offload["billable"]
    billed = offload.groupby(day(offload))["billed"].sum() / 3600
    frame = pd.DataFrame({"gpu_busy_hours": busy, "sampled_hours": sampled, "offload": billed})
    assert len(by_gpu) == len(peak) == GPUS
    return float(frame["gpu_busy_hours"].sum())


def raw_sql_summary(path: Path, since: int, until: int) -> list[tuple[object, ...]]:
    """The GPU part of the summary in plain SQL over the raw samples (no rollup)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute(
            "SELECT ts / 3600, gpu, sum(seconds), "
            "sum(CASE WHEN utilization >= 10 THEN seconds ELSE 0 END), max(memory_used) "
            "FROM gpu_samples WHERE ts >= ? AND ts < ? GROUP BY ts / 3600, gpu",
            (since, until),
        ).fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="ticks to time")
    parser.add_argument("--keep", type=Path, help="reuse (or create) the year's ledger here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        per_tick = sampling_cost(directory, args.samples)
        share = per_tick / INTERVAL
        print(
            f"sampling: {per_tick * 1e3:.2f} ms of CPU per tick ({GPUS} GPUs, context lookup, "
            f"one SQLite transaction) = {share:.4%} of a core at {INTERVAL} s "
            f"(limit 0.5%: {share / 0.005:.1%} of the budget)"
        )

        now = int(time.time())
        path = args.keep or directory / "year.sqlite3"
        if not path.exists():
            rows, seconds = build_year(path, now)
            print(
                f"ledger: {rows:,} rows for {DAYS} days x {GPUS} GPUs written in {seconds:.1f} s "
                f"({rows / seconds:,.0f} rows/s, rollup triggers included); "
                f"{path.stat().st_size / 1e6:.0f} MB"
            )
        since = now - DAYS * 86400 - 86400
        ours, result = timed(lambda: summary(DAYS, path, now=now))
        theirs, pandas_busy = timed(lambda: pandas_summary(path, since, now + 1), runs=1)
        assert isinstance(result, UsageSummary) and isinstance(pandas_busy, float)
        raw, _ = timed(lambda: raw_sql_summary(path, since, now + 1), runs=1)
        print(
            f"summary(days={DAYS}): {ours * 1e3:.0f} ms (median of 5); "
            f"pandas.read_sql + groupby: {theirs * 1e3:.0f} ms ({theirs / ours:.0f}x slower); "
            f"plain SQL over the raw GPU samples: {raw * 1e3:.0f} ms ({raw / ours:.0f}x slower)"
        )
        ours_busy = result.gpu_busy_hours_per_day * result.days_recorded
        print(f"  {result}")
        agree = "agree" if math.isclose(ours_busy, pandas_busy, rel_tol=1e-3) else "DIFFER"
        print(
            f"  GPU busy hours in total: summary {ours_busy:,.1f}, pandas {pandas_busy:,.1f} "
            f"({agree})"
        )
    met = share < 0.005 and ours < 0.2
    missed = "TARGET MISSED: sampling >= 0.5% of a core or summary >= 200 ms"
    print("targets met" if met else missed)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
