"""Where the ledger lives: the backend interface, and its SQLite implementation.

:class:`LedgerBackend` is all the sampler and the summary need from a store, so a second
backend (PostgreSQL, for a lab) implements these few methods and nothing else changes.

:class:`SqliteLedger` is the default, one file per user. It is built to be written by several
processes at once (servers, kernels recording their switches) and to survive what a laptop
does to files:

- WAL mode and a busy timeout; a write that still finds the file locked is retried with a
  bounded backoff, then kept for the next write. "database is locked" is never logged as an
  error.
- A read-only or full disk: one warning, the batch is kept (bounded) and written by a later
  call once the disk takes it again; no exception reaches the caller.
- A file that is not a database, or a corrupt one: moved aside with a warning naming both
  files, and a fresh ledger started.
- Writes are transactions, so a process killed mid-write leaves the previous state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from labadvisor.usage import schema
from labadvisor.usage.ledger_file import existing_ledger
from labadvisor.usage.records import Batch, DailyRow, KernelSwitch, Pending

log = logging.getLogger("labadvisor.usage")
_T = TypeVar("_T")

FILE_NAME = "usage.sqlite3"
BUSY_TIMEOUT_MS = 5_000
# After the busy timeout, this many more tries with a doubling pause (bounded in total).
LOCKED_RETRIES = 4
LOCKED_FIRST_PAUSE_S = 0.05
# Batches kept across a failed write: a day of ticks at the default interval.
PENDING_LIMIT = 1_440


class LedgerBackend(Protocol):
    """What the sampler and the summary need from a store."""

    @property
    def location(self) -> str:
        """Where the ledger is, for messages (never with a password)."""
        ...

    def write(self, batch: Batch) -> bool:
        """Store ``batch`` in one transaction; False if it was kept for a later try."""
        ...

    def prune(self, retention_days: float, *, now: float | None = None) -> int:
        """Delete samples older than ``retention_days``; the number of rows deleted."""
        ...

    def recording_since(self) -> float | None:
        """Unix time of the oldest sample kept, or None with none."""
        ...

    def daily(self, since: int, until: int, busy_percent: float) -> list[DailyRow]:
        """Per local day, kind and key, for the hours starting ``since`` <= t < ``until``."""
        ...

    def holder_peaks(self, since: int, until: int) -> dict[str, int]:
        """The most GPU memory (bytes) each holder had in the period."""
        ...

    def kernel_contexts(
        self, server: str, kernel_ids: Iterable[str]
    ) -> dict[str, tuple[str, str | None]]:
        """Each kernel's latest own context and role (kernels following the server omitted)."""
        ...

    def close(self) -> None: ...


def default_path() -> Path:
    """``$XDG_DATA_HOME/labadvisor/usage.sqlite3``, else under ``~/.local/share``."""
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "labadvisor" / FILE_NAME


class LedgerUnavailable(Exception):
    """The disk refused a write (read-only, full, cannot open): pause and try later."""


class SqliteLedger:
    """The usage ledger in one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._pending = Pending(PENDING_LIMIT)
        self.paused_reason: str | None = None  # set while writes fail; None once one succeeds

    @property
    def location(self) -> str:
        return str(self.path)

    # --- connection ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerUnavailable(f"cannot create {self.path.parent}: {exc}") from exc
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
            check_same_thread=False,
        )  # fmt: skip
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _retry_locked(lambda: _set_wal(connection))
            connection.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
            _retry_locked(lambda: _migrate(connection))
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """``action`` on the connection, retried while locked; a corrupt file is moved aside
        (with a warning) and ``action`` runs once more on a fresh ledger."""
        with self._lock:
            try:
                connection = self._connect()
                return _retry_locked(lambda: action(connection))
            except sqlite3.DatabaseError as exc:
                if not _is_corrupt(exc):
                    raise
                self._set_aside(exc)
                connection = self._connect()
                return _retry_locked(lambda: action(connection))

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(f"{aside}{suffix}")
        log.warning(
            "The usage ledger %s could not be read (%s); moved it aside to %s and started a "
            "fresh one at %s.", self.path, exc, aside, self.path,
        )  # fmt: skip

    # --- writing ---------------------------------------------------------------------------

    def write(self, batch: Batch) -> bool:
        """Store ``batch`` (and any kept from failed tries) in one transaction.

        Never raises for disk trouble: returns False after (at most) one warning per outage
        and keeps the rows for the next call.
        """
        with self._lock:
            self._pending.add(batch)
            merged = self._pending.merged()
            try:
                self._run(lambda connection: _insert(connection, merged))
            except sqlite3.DatabaseError as exc:
                if _is_locked(exc):  # still locked after the retries: next time, quietly
                    log.debug("usage ledger %s busy; keeping %d rows", self.path, len(merged))
                    return False
                self._pause(str(exc))
                return False
            except LedgerUnavailable as exc:
                self._pause(str(exc))
                return False
            self._pending = Pending(PENDING_LIMIT)
            if self.paused_reason is not None:
                log.info("The usage ledger %s takes writes again.", self.path)
                self.paused_reason = None
            return True

    def _pause(self, reason: str) -> None:
        # A connection that failed may hold a broken state: the next try opens afresh.
        self.close()
        if self.paused_reason is None:
            log.warning(
                "Cannot write the usage ledger %s (%s); sampling goes on and the rows are "
                "kept and written when the disk takes them again.", self.path, reason,
            )  # fmt: skip
        self.paused_reason = reason

    def prune(self, retention_days: float, *, now: float | None = None) -> int:
        """Delete samples older than ``retention_days`` (whole hours, so rollups match)."""
        now = time.time() if now is None else now
        cutoff = int(now - retention_days * 86400) // 3600 * 3600
        statements = [
            f"DELETE FROM {table} WHERE ts < ?"
            for table in (
                "ticks", "gpu_samples", "holder_samples", "context_samples", "offload_samples",
            )
        ]  # fmt: skip
        statements.append("DELETE FROM usage_hourly WHERE hour < ? / 3600")
        statements.append("DELETE FROM lab_hourly WHERE hour < ? / 3600")
        statements.append("DELETE FROM lab_minutes WHERE minute < ? / 60")
        # A kernel's latest switch stays: it may still be in force.
        statements.append(
            "DELETE FROM kernel_contexts WHERE ts < ? AND ts < "
            "(SELECT max(ts) FROM kernel_contexts k WHERE k.server_name = "
            "kernel_contexts.server_name AND k.kernel_id = kernel_contexts.kernel_id)"
        )

        def delete(connection: sqlite3.Connection) -> int:
            with _transaction(connection):
                return sum(connection.execute(sql, (cutoff,)).rowcount for sql in statements)

        try:
            return self._run(delete)
        except (sqlite3.OperationalError, LedgerUnavailable) as exc:
            if not (isinstance(exc, sqlite3.OperationalError) and _is_locked(exc)):
                self._pause(str(exc))
            return 0

    # --- reading ---------------------------------------------------------------------------

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        if self._connection is None and existing_ledger(self.path) is None:
            return []  # reading never creates the file
        return self._run(lambda connection: connection.execute(sql, parameters).fetchall())

    def recording_since(self) -> float | None:
        rows = self._read("SELECT min(ts) FROM ticks")
        value = rows[0][0] if rows else None
        return float(value) if isinstance(value, (int, float)) else None

    def daily(self, since: int, until: int, busy_percent: float) -> list[DailyRow]:
        # SQLite's 'localtime' is the C library's, as Python's datetime.fromtimestamp is.
        from_rollup = "" if busy_percent == schema.ROLLUP_BUSY_PERCENT else "AND kind != 'gpu'"
        hours = (since // 3600, -(-until // 3600))
        rows = self._read(
            "SELECT date(hour * 3600, 'unixepoch', 'localtime') AS day, kind, key, "
            "sum(seconds), sum(busy_seconds), max(peak) "
            f"FROM usage_hourly WHERE hour >= ? AND hour < ? {from_rollup} "
            "GROUP BY day, kind, key",
            hours,
        )
        if from_rollup:  # another threshold than the rollup's: the raw GPU samples (slower)
            rows += self._read(
                "SELECT date(ts / 3600 * 3600, 'unixepoch', 'localtime') AS day, 'gpu', gpu, "
                "sum(seconds), sum(CASE WHEN utilization >= ? THEN seconds ELSE 0 END), "
                "max(memory_used) FROM gpu_samples WHERE ts >= ? AND ts < ? GROUP BY day, gpu",
                (busy_percent, hours[0] * 3600, hours[1] * 3600),
            )
        return [
            DailyRow(str(d), str(k), str(key), _float(s), _float(b), None if p is None else _int(p))
            for d, k, key, s, b, p in rows
        ]

    def holder_peaks(self, since: int, until: int) -> dict[str, int]:
        rows = self._read(
            "SELECT holder, max(memory_used) FROM holder_samples "
            "WHERE ts >= ? AND ts < ? GROUP BY holder",
            (since, until),
        )
        return {str(holder): _int(peak) for holder, peak in rows}

    def kernel_contexts(
        self, server: str, kernel_ids: Iterable[str]
    ) -> dict[str, tuple[str, str | None]]:
        ids = list(dict.fromkeys(kernel_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._read(
            "SELECT kernel_id, context, role FROM kernel_contexts k "
            f"WHERE server_name = ? AND kernel_id IN ({marks}) AND ts = (SELECT max(ts) "
            "FROM kernel_contexts WHERE server_name = k.server_name AND kernel_id = k.kernel_id)",
            (server, *ids),
        )
        return {
            str(kernel): (str(context), None if role is None else str(role))
            for kernel, context, role in rows
            if context is not None
        }

    def schema_version(self) -> int:
        rows = self._read("SELECT version FROM schema_version")
        return _int(rows[0][0]) if rows else 0


# --- helpers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so the busy timeout applies at BEGIN instead
    # of failing later on a lock upgrade that waiting cannot resolve.
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _set_wal(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")


def _migrate(connection: sqlite3.Connection, target: int = schema.VERSION) -> None:
    """Apply the missing migrations, each in its own transaction (no write lock if none)."""
    version = _version(connection)
    if version > len(schema.MIGRATIONS):
        raise LedgerUnavailable(
            f"schema version {version} is newer than this labadvisor knows "
            f"({len(schema.MIGRATIONS)}); upgrade labadvisor"
        )
    if version >= target:
        return
    with _transaction(connection):
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if connection.execute("SELECT version FROM schema_version").fetchone() is None:
            connection.execute("INSERT INTO schema_version VALUES (0)")
    while True:
        with _transaction(connection):
            # Another process may have migrated meanwhile: read again under the write lock.
            version = _version(connection)
            if version >= target:
                return
            for statement in _statements(schema.MIGRATIONS[version]):
                connection.execute(statement)
            if version == 0:
                connection.execute(
                    "INSERT OR IGNORE INTO ledger_info VALUES ('created_at', ?)",
                    (str(time.time()),),
                )
            connection.execute("UPDATE schema_version SET version = ?", (version + 1,))


def _version(connection: sqlite3.Connection) -> int:
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    row = connection.execute("SELECT version FROM schema_version").fetchone() if exists else None
    return 0 if row is None else int(row[0])


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements (``complete_statement`` knows triggers)."""
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                yield current.strip()
            current = ""
    if current.strip():
        yield current.strip()


def _insert(connection: sqlite3.Connection, batch: Batch) -> None:
    samples = batch.samples
    with _transaction(connection):
        connection.executemany(
            "INSERT INTO ticks (server_name, ts, user_name, seconds, gpus_held, gpus_wanted) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(s.server, s.ts, s.user, s.seconds, s.gpus_held, s.gpus_wanted) for s in samples],
        )
        connection.executemany(
            "INSERT INTO gpu_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (s.server, g.gpu, s.ts, s.user, s.seconds, g.utilization, g.memory_used,
                 g.memory_total)
                for s in samples
                for g in s.gpus
            ],
        )  # fmt: skip
        connection.executemany(
            "INSERT INTO holder_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (s.server, h.gpu, h.holder, s.ts, s.user, s.seconds, h.memory_used, h.kernel_id)
                for s in samples
                for h in s.holders
            ],
        )
        connection.executemany(
            "INSERT INTO context_samples VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (s.server, c.scope, s.ts, s.user, s.seconds, c.context, c.role)
                for s in samples
                for c in s.contexts
            ],
        )
        connection.executemany(
            "INSERT INTO offload_samples VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (s.server, s.ts, s.user, s.seconds, s.offload.state, s.offload.source,
                 int(s.offload.billable))
                for s in samples
                if s.offload is not None
            ],
        )  # fmt: skip
        connection.executemany(
            "INSERT INTO kernel_contexts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [_switch_row(k) for k in batch.switches],
        )


def _switch_row(switch: KernelSwitch) -> tuple[object, ...]:
    return (switch.server, switch.kernel_id, switch.ts, switch.user, switch.context, switch.role)


def _retry_locked(action: Callable[[], _T]) -> _T:
    """Run ``action``; while SQLite says locked/busy, try again after a doubling pause."""
    pause = LOCKED_FIRST_PAUSE_S
    for attempt in range(LOCKED_RETRIES + 1):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or attempt == LOCKED_RETRIES:
                raise
            time.sleep(pause * (1 + random.random()))  # jitter: writers do not retry in step
            pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _int(value: object) -> int:
    if isinstance(value, (int, float, str)):
        return int(value)
    raise TypeError(f"expected a number from the ledger, got {value!r}")


def _float(value: object) -> float:
    if isinstance(value, (int, float, str)):
        return float(value)
    raise TypeError(f"expected a number from the ledger, got {value!r}")


def _error_name(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", ""))  # Python 3.11+


def _is_locked(exc: sqlite3.Error) -> bool:
    name = _error_name(exc)
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_corrupt(exc: sqlite3.Error) -> bool:
    name = _error_name(exc)
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text
