"""The local SQLite ledger as a spool: samples wait here while the lab's database is away.

A :class:`SpoolLedger` is an ordinary :class:`~labadvisor.usage.store.SqliteLedger` (same
file format, same safety under several writers) that can also hand back what it holds, oldest
first, as batches, and forget a batch once the lab's database has committed it. Sending is
at-least-once and the lab's writes are idempotent (``ON CONFLICT DO NOTHING`` on the natural
keys), so a batch sent twice (a crash between the remote commit and the local delete, two
processes flushing one spool) is stored once: exactly once where it counts.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

from labadvisor.usage.records import (
    Batch,
    ContextReading,
    GpuReading,
    HolderReading,
    KernelSwitch,
    OffloadReading,
    Sample,
)
from labadvisor.usage.store import SqliteLedger, _float, _int, _transaction, default_path

SPOOL_FILE_NAME = "usage-spool.sqlite3"

_KEYED_TABLES = ("ticks", "gpu_samples", "holder_samples", "context_samples", "offload_samples")
_ROLLUPS = ("usage_hourly", "lab_hourly", "lab_minutes")
Key = tuple[str, int]


def default_spool_path() -> Path:
    """Beside the default ledger: ``$XDG_DATA_HOME/labadvisor/usage-spool.sqlite3``."""
    return default_path().with_name(SPOOL_FILE_NAME)


class SpoolLedger(SqliteLedger):
    """A SQLite ledger whose rows are waiting to be sent elsewhere."""

    def pending(self) -> bool:
        """Whether any sample or kernel switch waits (never creates the file)."""
        rows = self._read(
            "SELECT EXISTS (SELECT 1 FROM ticks) OR EXISTS (SELECT 1 FROM kernel_contexts)"
        )
        return bool(rows and rows[0][0])

    def oldest(self, limit: int) -> Batch:
        """Up to ``limit`` of the oldest samples (each whole) and kernel switches."""
        ticks = self._read(
            "SELECT server_name, ts, user_name, seconds, gpus_held, gpus_wanted FROM ticks "
            "ORDER BY ts, server_name LIMIT ?",
            (limit,),
        )
        gpus, holders, contexts, offload = self._subjects(_int(ticks[-1][1]) if ticks else -1)
        samples = tuple(
            Sample(
                _int(ts),
                _float(seconds),
                str(user),
                str(server),
                tuple(gpus.get((str(server), _int(ts)), ())),
                tuple(holders.get((str(server), _int(ts)), ())),
                tuple(contexts.get((str(server), _int(ts)), ())),
                offload.get((str(server), _int(ts))),
                _int(held),
                _int(wanted),
            )
            for server, ts, user, seconds, held, wanted in ticks
        )
        switches = tuple(
            KernelSwitch(
                _float(ts), str(user), str(server), str(kernel), _text(context), _text(role)
            )
            for server, kernel, ts, user, context, role in self._read(
                "SELECT server_name, kernel_id, ts, user_name, context, role "
                "FROM kernel_contexts ORDER BY ts LIMIT ?",
                (limit,),
            )
        )
        return Batch(samples, switches)

    def _subjects(
        self, last_ts: int
    ) -> tuple[
        dict[Key, list[GpuReading]],
        dict[Key, list[HolderReading]],
        dict[Key, list[ContextReading]],
        dict[Key, OffloadReading],
    ]:
        # Everything up to the last tick taken; rows of ticks not taken are dropped by the
        # caller's lookup (a later call takes them with their tick).
        gpus: dict[Key, list[GpuReading]] = defaultdict(list)
        for server, ts, gpu, util, used, total in self._read(
            "SELECT server_name, ts, gpu, utilization, memory_used, memory_total "
            "FROM gpu_samples WHERE ts <= ? ORDER BY gpu",
            (last_ts,),
        ):
            gpus[str(server), _int(ts)].append(
                GpuReading(str(gpu), _maybe_float(util), _maybe_int(used), _maybe_int(total))
            )
        holders: dict[Key, list[HolderReading]] = defaultdict(list)
        for server, ts, gpu, holder, used, kernel in self._read(
            "SELECT server_name, ts, gpu, holder, memory_used, kernel_id FROM holder_samples "
            "WHERE ts <= ? ORDER BY gpu, holder",
            (last_ts,),
        ):
            holders[str(server), _int(ts)].append(
                HolderReading(str(gpu), str(holder), _int(used), _text(kernel))
            )
        contexts: dict[Key, list[ContextReading]] = defaultdict(list)
        for server, ts, scope, context, role in self._read(
            "SELECT server_name, ts, scope, context, role FROM context_samples "
            "WHERE ts <= ? ORDER BY scope",
            (last_ts,),
        ):
            contexts[str(server), _int(ts)].append(
                ContextReading(str(scope), str(context), _text(role))
            )
        offload = {
            (str(server), _int(ts)): OffloadReading(str(state), str(source), bool(billable))
            for server, ts, state, source, billable in self._read(
                "SELECT server_name, ts, state, source, billable FROM offload_samples "
                "WHERE ts <= ?",
                (last_ts,),
            )
        }
        return gpus, holders, contexts, offload

    def forget(self, batch: Batch) -> None:
        """Delete ``batch``'s rows (after the lab's database committed them)."""
        keys = [(s.server, s.ts) for s in batch.samples]
        switches = [(k.server, k.kernel_id, k.ts) for k in batch.switches]

        def delete(connection: sqlite3.Connection) -> None:
            with _transaction(connection):
                for table in _KEYED_TABLES:
                    connection.executemany(
                        f"DELETE FROM {table} WHERE server_name = ? AND ts = ?", keys
                    )
                connection.executemany(
                    "DELETE FROM kernel_contexts WHERE server_name = ? AND kernel_id = ? "
                    "AND ts = ?",
                    switches,
                )
                # The spool's own rollups mean nothing once its rows are sent.
                empty = connection.execute("SELECT NOT EXISTS (SELECT 1 FROM ticks)").fetchone()
                if empty and empty[0]:
                    for table in _ROLLUPS:
                        connection.execute(f"DELETE FROM {table}")

        if keys or switches:
            self._run(delete)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _maybe_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _maybe_float(value: object) -> float | None:
    return None if value is None else _float(value)
