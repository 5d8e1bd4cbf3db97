"""The lab's ledger in PostgreSQL (psycopg 3), with the local SQLite ledger as its spool.

Every user's server writes its samples here, as its own role (see
:mod:`labadvisor.usage.pg_schema` for the row-level security that keeps users apart). The
schema is created and migrated on first use (by a role allowed to create it: the admin's).

Outages lose nothing and bother no one: when the database cannot be reached (or refuses a
write), the batch goes to the local :class:`~labadvisor.usage.spool.SpoolLedger` with one
warning for the whole outage; each later write first sends what the spool holds, oldest
first, then its own batch. Writes are idempotent, so the spool's at-least-once sending
stores each sample exactly once. No exception reaches the caller of :meth:`write`.

The URL's password is used to connect and nowhere else: :attr:`location`, ``repr``, every
log line and every error message go through :mod:`labadvisor.usage.redaction`.

psycopg is imported when a ledger first connects, never with ``import labadvisor``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labadvisor.usage import pg_schema
from labadvisor.usage.records import Batch, DailyRow, Identity, identity
from labadvisor.usage.redaction import redact_text, redact_url, url_password
from labadvisor.usage.spool import SpoolLedger, default_spool_path
from labadvisor.usage.store import LedgerUnavailable, _float, _int

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("labadvisor.usage")

S = pg_schema.SCHEMA
CONNECT_TIMEOUT_S = 5
# Spooled samples sent per transaction, and at most this many transactions per write.
SPOOL_CHUNK = 2_000
SPOOL_CHUNKS_PER_WRITE = 50
_TRANSIENT_RETRIES = 3  # deadlock or serialization failure: retry the transaction at once


class SchemaNotReady(LedgerUnavailable):
    """The lab's schema is missing or older, and this role may not create or migrate it."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise LedgerUnavailable(
            "psycopg is not installed: pip install 'labadvisor[lab]' (psycopg 3) to use a "
            "postgresql:// usage URL"
        ) from exc
    return psycopg


def connect(url: str, *, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> psycopg.Connection[Any]:
    """A connection to ``url``; errors carry the redacted URL, never the password."""
    pg = _psycopg()
    try:
        connection: psycopg.Connection[Any] = pg.connect(
            url,
            connect_timeout=max(int(connect_timeout_s), 1),
            application_name="labadvisor",
            autocommit=True,  # transactions are explicit: connection.transaction()
        )
    except pg.Error as exc:
        raise LedgerUnavailable(
            f"cannot connect to {redact_url(url)}: {redact_text(str(exc), url_password(url))}"
        ) from None
    return connection


def schema_version(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute("SELECT to_regclass(%s)", (f"{S}.schema_version",)).fetchone()
    if row is None or row[0] is None:
        return 0
    version = connection.execute(f"SELECT version FROM {S}.schema_version").fetchone()
    return 0 if version is None else int(version[0])


def migrate(connection: psycopg.Connection[Any]) -> int:
    """Bring the lab's schema to :data:`pg_schema.VERSION`; the version it found.

    Concurrent first uses serialise on an advisory lock; a role that may not create the
    schema gets :class:`SchemaNotReady` saying who must run it.
    """
    pg = _psycopg()
    with connection.transaction():
        found = schema_version(connection)
    if found > pg_schema.VERSION:
        raise LedgerUnavailable(
            f"the lab's usage schema is at version {found}, newer than this labadvisor knows "
            f"({pg_schema.VERSION}); upgrade labadvisor"
        )
    if found == pg_schema.VERSION:
        return found
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (pg_schema.MIGRATION_LOCK,))
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
            connection.execute(f"GRANT USAGE ON SCHEMA {S} TO PUBLIC")
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {S}.schema_version (version INTEGER NOT NULL)"
            )
            connection.execute(f"GRANT SELECT ON {S}.schema_version TO PUBLIC")
            version = schema_version(connection)  # under the lock: another may have migrated
            if (
                version == 0
                and not connection.execute(f"SELECT 1 FROM {S}.schema_version").fetchone()
            ):
                connection.execute(f"INSERT INTO {S}.schema_version VALUES (0)")
            for step in range(version, pg_schema.VERSION):
                connection.execute(pg_schema.MIGRATIONS[step])
                if step == 0:
                    connection.execute(
                        f"INSERT INTO {S}.ledger_info VALUES ('created_at', %s) "
                        "ON CONFLICT DO NOTHING",
                        (str(time.time()),),
                    )
                connection.execute(f"UPDATE {S}.schema_version SET version = %s", (step + 1,))
    except pg.errors.InsufficientPrivilege as exc:
        user = connection.info.user
        raise SchemaNotReady(
            f"the lab's usage schema is at version {found} and role {user!r} may not migrate "
            f"it to {pg_schema.VERSION} ({exc.diag.message_primary}); run "
            "labadvisor.usage.migrate_lab(url) once with the database owner's role"
        ) from None
    return found


def migrate_lab(url: str) -> int:
    """Create or migrate the lab's schema at ``url`` (as the admin); the version found."""
    with connect(url) as connection:
        return migrate(connection)


class PostgresLedger:
    """A lab-wide usage ledger in PostgreSQL for this server's samples."""

    def __init__(
        self,
        url: str,
        *,
        spool: SpoolLedger | str | os.PathLike[str] | None = None,
        who: Identity | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            shown = redact_url(url) if isinstance(url, str) else repr(url)
            raise ValueError(f"expected a postgresql:// URL, got {shown}")
        self._url = url
        self._password = url_password(url)
        self.spool = spool if isinstance(spool, SpoolLedger) else SpoolLedger(
            Path(spool) if spool is not None else default_spool_path()
        )  # fmt: skip
        self.who = who or identity()
        self.connect_timeout_s = connect_timeout_s
        self._connection: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()
        self._is_owner = False
        self.outage: str | None = None  # why the database is unreachable; None when it is not
        self.sent_from_spool = 0  # samples and switches sent from the spool, in total

    @property
    def location(self) -> str:
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"PostgresLedger({self.location!r}, spool={str(self.spool.path)!r})"

    # --- connection ------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = connect(self._url, connect_timeout_s=self.connect_timeout_s)
        try:
            migrate(connection)
            owner = connection.execute(
                "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables "
                "WHERE schemaname = %s AND tablename = 'lab_minutes'",
                (S,),
            ).fetchone()
        except BaseException:
            connection.close()
            raise
        self._is_owner = bool(owner and owner[0])
        self._connection = connection
        return connection

    def close(self) -> None:
        with self._lock:
            self._drop()
            self.spool.close()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a broken connection may fail to close; it is gone anyway
                log.debug("closing a broken connection failed", exc_info=True)

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _clean(self, exc: BaseException) -> str:
        return redact_text(f"{type(exc).__name__}: {exc}".strip(), self._password)

    # --- writing ---------------------------------------------------------------------------

    def write(self, batch: Batch) -> bool:
        """Send the spool's rows, then ``batch``; on any failure ``batch`` goes to the spool
        (one warning per outage) and False is returned. Never raises."""
        with self._lock:
            try:
                connection = self._connect()
                self._send_spool(connection)
                if len(batch):
                    self._transact(connection, batch)
            except Exception as exc:
                self._drop()
                self._went_away(exc)
                self.spool.write(batch)
                return False
            self._came_back()
            return True

    def flush(self) -> bool:
        """Send what the spool holds now; True when it is empty afterwards."""
        return self.write(Batch()) and not self.spool.pending()

    def _send_spool(self, connection: psycopg.Connection[Any]) -> None:
        for _ in range(SPOOL_CHUNKS_PER_WRITE):
            if not self.spool.pending():
                return
            chunk = self.spool.oldest(SPOOL_CHUNK)
            if not len(chunk):
                return
            self._transact(connection, chunk)
            self.spool.forget(chunk)  # after the commit: a crash between resends (harmless)
            self.sent_from_spool += len(chunk)

    def _transact(self, connection: psycopg.Connection[Any], batch: Batch) -> None:
        pg = _psycopg()
        for attempt in range(_TRANSIENT_RETRIES + 1):
            try:
                with connection.transaction():
                    _insert(connection, batch)
                return
            except (pg.errors.DeadlockDetected, pg.errors.SerializationFailure):
                if attempt == _TRANSIENT_RETRIES:
                    raise

    def _went_away(self, exc: BaseException) -> None:
        reason = self._clean(exc)
        if self.outage is None:
            log.warning(
                "The lab's usage database %s cannot take samples (%s); they are kept in %s "
                "and sent when it is back.", self.location, reason, self.spool.path,
            )  # fmt: skip
        self.outage = reason

    def _came_back(self) -> None:
        if self.outage is not None:
            log.info(
                "The lab's usage database %s is back; %d spooled samples sent so far.",
                self.location, self.sent_from_spool,
            )  # fmt: skip
            self.outage = None

    def prune(self, retention_days: float, *, now: float | None = None) -> int:
        """Delete this user's samples older than ``retention_days`` (the owner's role also
        prunes the lab-wide minutes). 0, quietly, when the database is away."""
        now = time.time() if now is None else now
        cutoff = int(now - retention_days * 86400) // 3600 * 3600
        user = self.who.user
        statements: list[tuple[str, tuple[object, ...]]] = [
            (f"DELETE FROM {S}.{t} WHERE user_name = %s AND ts < %s", (user, cutoff))
            for t in ("ticks", "gpu_samples", "holder_samples", "context_samples",
                      "offload_samples")
        ]  # fmt: skip
        statements += [
            (f"DELETE FROM {S}.{t} WHERE user_name = %s AND hour < %s", (user, cutoff // 3600))
            for t in ("usage_hourly", "lab_hourly")
        ]
        statements.append(
            (
                f"DELETE FROM {S}.kernel_contexts k WHERE user_name = %s AND ts < %s AND ts < "
                f"(SELECT max(ts) FROM {S}.kernel_contexts l WHERE l.user_name = k.user_name "
                "AND l.server_name = k.server_name AND l.kernel_id = k.kernel_id)",
                (user, cutoff),
            )
        )
        with self._lock:
            try:
                connection = self._connect()
                if self._is_owner:
                    statements.append(
                        (f"DELETE FROM {S}.lab_minutes WHERE minute < %s", (cutoff // 60,))
                    )
                with connection.transaction():
                    return sum(connection.execute(sql, p).rowcount for sql, p in statements)
            except Exception as exc:
                self._drop()
                self._went_away(exc)
                return 0

    # --- reading (this user's rows only) ---------------------------------------------------

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                connection = self._connect()
                with connection.transaction():
                    return list(connection.execute(sql, parameters).fetchall())
            except Exception as exc:
                self._drop()
                raise LedgerUnavailable(
                    f"cannot read the lab's usage database {self.location}: {self._clean(exc)}"
                ) from None

    def recording_since(self) -> float | None:
        rows = self._read(f"SELECT min(ts) FROM {S}.ticks WHERE user_name = %s", (self.who.user,))
        value = rows[0][0] if rows else None
        return None if value is None else float(value)

    def daily(self, since: int, until: int, busy_percent: float) -> list[DailyRow]:
        hours = (since // 3600, -(-until // 3600))
        user = self.who.user
        from_rollup = busy_percent == pg_schema.ROLLUP_BUSY_PERCENT
        rows = self._read(
            f"SELECT hour, kind, key, sum(seconds), sum(busy_seconds), max(peak) "
            f"FROM {S}.usage_hourly WHERE user_name = %s AND hour >= %s AND hour < %s "
            f"{'' if from_rollup else 'AND kind <> %s'} GROUP BY hour, kind, key",
            (user, *hours) if from_rollup else (user, *hours, "gpu"),
        )
        if not from_rollup:
            rows += self._read(
                f"SELECT ts / 3600, 'gpu', gpu, sum(seconds), "
                "sum(CASE WHEN utilization >= %s THEN seconds ELSE 0 END), max(memory_used) "
                f"FROM {S}.gpu_samples WHERE user_name = %s AND ts >= %s AND ts < %s "
                "GROUP BY ts / 3600, gpu",
                (busy_percent, user, hours[0] * 3600, hours[1] * 3600),
            )
        return _by_local_day(rows)

    def holder_peaks(self, since: int, until: int) -> dict[str, int]:
        rows = self._read(
            f"SELECT holder, max(memory_used) FROM {S}.holder_samples "
            "WHERE user_name = %s AND ts >= %s AND ts < %s GROUP BY holder",
            (self.who.user, since, until),
        )
        return {str(holder): _int(peak) for holder, peak in rows}

    def kernel_contexts(
        self, server: str, kernel_ids: Iterable[str]
    ) -> dict[str, tuple[str, str | None]]:
        ids = list(dict.fromkeys(kernel_ids))
        if not ids:
            return {}
        try:
            rows = self._read(
                f"SELECT DISTINCT ON (kernel_id) kernel_id, context, role "
                f"FROM {S}.kernel_contexts WHERE user_name = %s AND server_name = %s "
                "AND kernel_id = ANY(%s) ORDER BY kernel_id, ts DESC",
                (self.who.user, server, ids),
            )
        except LedgerUnavailable:
            return self.spool.kernel_contexts(server, ids)
        found = {
            str(kernel): (str(context), None if role is None else str(role))
            for kernel, context, role in rows
            if context is not None
        }
        if self.spool.pending():  # a switch recorded during an outage is newer
            found.update(self.spool.kernel_contexts(server, ids))
        return found

    def schema_version(self) -> int:
        with self._lock:
            connection = self._connect()
            with connection.transaction():
                return schema_version(connection)


def _by_local_day(rows: Iterable[tuple[Any, ...]]) -> list[DailyRow]:
    """Per-hour rows (hour, kind, key, seconds, busy, peak) summed by local calendar day."""
    totals: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    peaks: dict[tuple[str, str, str], int | None] = {}
    for hour, kind, key, seconds, busy, peak in rows:
        day = dt.date.fromtimestamp(_int(hour) * 3600).isoformat()
        group = (day, str(kind), str(key))
        totals[group][0] += _float(seconds)
        totals[group][1] += _float(busy)
        if peak is not None:
            before = peaks.get(group)
            peaks[group] = _int(peak) if before is None else max(before, _int(peak))
        else:
            peaks.setdefault(group, None)
    return [DailyRow(*group, s, b, peaks.get(group)) for group, (s, b) in totals.items()]


def _insert(connection: psycopg.Connection[Any], batch: Batch) -> None:
    """One statement per table (``unnest`` of arrays), oldest first, duplicates ignored."""
    samples = sorted(batch.samples, key=lambda s: (s.ts, s.user, s.server))

    def put(table: str, columns: str, types: Sequence[str], rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        arrays = [list(column) for column in zip(*rows, strict=True)]
        unnest = ", ".join(f"%s::{t}[]" for t in types)
        connection.execute(
            f"INSERT INTO {S}.{table} ({columns}) SELECT * FROM unnest({unnest}) "
            "ON CONFLICT DO NOTHING",
            arrays,
        )

    put(
        "ticks", "user_name, server_name, ts, seconds, gpus_held, gpus_wanted",
        ("text", "text", "bigint", "float8", "int", "int"),
        [(s.user, s.server, s.ts, s.seconds, s.gpus_held, s.gpus_wanted) for s in samples],
    )  # fmt: skip
    put(
        "gpu_samples",
        "user_name, server_name, gpu, ts, seconds, utilization, memory_used, memory_total",
        ("text", "text", "text", "bigint", "float8", "float8", "bigint", "bigint"),
        [
            (s.user, s.server, g.gpu, s.ts, s.seconds, g.utilization, g.memory_used,
             g.memory_total)
            for s in samples
            for g in s.gpus
        ],
    )  # fmt: skip
    put(
        "holder_samples",
        "user_name, server_name, gpu, holder, ts, seconds, memory_used, kernel_id",
        ("text", "text", "text", "text", "bigint", "float8", "bigint", "text"),
        [
            (s.user, s.server, h.gpu, h.holder, s.ts, s.seconds, h.memory_used, h.kernel_id)
            for s in samples
            for h in s.holders
        ],
    )
    put(
        "context_samples",
        "user_name, server_name, scope, ts, seconds, context, role",
        ("text", "text", "text", "bigint", "float8", "text", "text"),
        [
            (s.user, s.server, c.scope, s.ts, s.seconds, c.context, c.role)
            for s in samples
            for c in s.contexts
        ],
    )
    put(
        "offload_samples",
        "user_name, server_name, ts, seconds, state, source, billable",
        ("text", "text", "bigint", "float8", "text", "text", "boolean"),
        [
            (s.user, s.server, s.ts, s.seconds, s.offload.state, s.offload.source,
             s.offload.billable)
            for s in samples
            if s.offload is not None
        ],
    )  # fmt: skip
    put(
        "kernel_contexts",
        "user_name, server_name, kernel_id, ts, context, role",
        ("text", "text", "text", "float8", "text", "text"),
        [(k.user, k.server, k.kernel_id, k.ts, k.context, k.role) for k in batch.switches],
    )
