"""A generated lab ledger in SQLite, for the demo notebook and tests: no server needed.

:func:`demo_lab` writes ``days`` days of a lab of ``users`` people through the ordinary
ledger (:class:`~labadvisor.usage.store.SqliteLedger`), one sample a minute per running
server, as if each user's JupyterHub server ran on one of the lab's nodes
(``cpu-node-N/<user>`` or ``gpu-node-N/<user>``). Users keep office hours on weekdays (a
few on weekends), some train on GPUs: a GPU user's server asks for one GPU for its whole
session and holds one when one of the lab's ``gpus`` is free (first come, first served),
so busy afternoons show GPU contention. Seeded: the same arguments give the same ledger.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from labadvisor.usage.records import Batch, ContextReading, GpuReading, Sample
from labadvisor.usage.store import SqliteLedger

GPUS_PER_NODE = 4
CPU_NODES = 3
_GB = 1_000_000_000


@dataclass(frozen=True)
class _Person:
    name: str
    weekday_chance: float
    start_hour: float
    hours: float
    gpu: bool


def demo_lab(
    path: str | os.PathLike[str],
    *,
    users: int = 60,
    days: int = 30,
    gpus: int = 8,
    seed: int = 2024,
    now: float | None = None,
) -> Path:
    """Write a generated lab ledger to ``path`` (replacing one there); returns the path."""
    for name, value, low in (("users", users, 1), ("days", days, 1), ("gpus", gpus, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number, {low} or more, got {value!r}")
    target = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    people = [
        _Person(
            f"user{n:03d}",
            weekday_chance=rng.uniform(0.35, 0.95),
            start_hour=min(max(rng.gauss(10.0, 1.5), 7.0), 16.0),
            hours=rng.uniform(2.0, 8.0),
            gpu=rng.random() < 0.35,
        )
        for n in range(users)
    ]
    gpu_nodes = max(-(-gpus // GPUS_PER_NODE), 1)
    labels = [
        (f"gpu-node-{g // GPUS_PER_NODE + 1}", f"GPU {g % GPUS_PER_NODE}") for g in range(gpus)
    ]
    end = time.time() if now is None else now
    today = dt.date.fromtimestamp(end)
    with SqliteLedger(target) as ledger:
        for back in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=back)
            samples = _day(rng, people, day, labels, gpu_nodes, end)
            ledger.write(Batch(tuple(samples)))
    return target


def _day(
    rng: random.Random,
    people: list[_Person],
    day: dt.date,
    labels: list[tuple[str, str]],
    gpu_nodes: int,
    end: float,
) -> list[Sample]:
    midnight = int(dt.datetime.combine(day, dt.time.min).timestamp()) // 60 * 60
    weekend = day.weekday() >= 5
    sessions: dict[str, tuple[int, int, _Person]] = {}
    for person in people:
        chance = person.weekday_chance * (0.12 if weekend else 1.0)
        if rng.random() >= chance:
            continue
        start = int((person.start_hour + rng.gauss(0, 1.0)) * 60)
        length = int(max(person.hours + rng.gauss(0, 1.5), 0.5) * 60)
        start = min(max(start, 0), 1439)
        sessions[person.name] = (start, min(start + length, 1440), person)

    holding: dict[str, tuple[str, str]] = {}  # user -> (node, GPU label)
    free = list(labels)
    samples: list[Sample] = []
    for minute in range(1440):
        ts = midnight + 60 * minute
        if ts > end:
            break
        for name in [n for n in holding if not sessions[n][0] <= minute < sessions[n][1]]:
            free.append(holding.pop(name))
        for name, (start, stop, person) in sessions.items():
            if not start <= minute < stop:
                continue
            if person.gpu and name not in holding and free:
                holding[name] = free.pop(0)
            held = holding.get(name)
            node = held[0] if held else _node(name, person.gpu, gpu_nodes)
            gpu_readings: tuple[GpuReading, ...] = ()
            if held:
                memory = int(rng.uniform(6, 70) * _GB)
                gpu_readings = (GpuReading(held[1], rng.uniform(40, 98), memory, 80 * _GB),)
            samples.append(
                Sample(
                    ts,
                    60.0,
                    name,
                    f"{node}/{name}",
                    gpu_readings,
                    (),
                    (ContextReading("server", "default", "local"),),
                    None,
                    1 if held else 0,
                    1 if person.gpu else 0,
                )
            )
    return samples


def _node(name: str, gpu: bool, gpu_nodes: int) -> str:
    digest = sum(name.encode())
    if gpu:
        return f"gpu-node-{digest % gpu_nodes + 1}"
    return f"cpu-node-{digest % CPU_NODES + 1}"
