"""The lab ledger's tables in PostgreSQL, in schema ``labadvisor``, and their migrations.

The tables mirror the SQLite ledger's (see :mod:`labadvisor.usage.schema`), with the user in
every natural key: two users' servers on one shared host have the same host name, and their
rows must not collide. Writes are ``INSERT ... ON CONFLICT DO NOTHING`` on those keys, so a
retried batch never doubles a sample.

Rollups (``usage_hourly``, ``lab_hourly``, ``lab_minutes``) are kept by statement-level
triggers over the transition table of rows actually inserted (a duplicate ignored by
``ON CONFLICT`` is not in it), aggregated per statement, so loading a day of a lab in one
statement updates each rollup row once.

Privacy, from the migration itself:

- every table has row-level security: a role sees, inserts and deletes only rows whose
  ``user_name`` is its own name (``current_user``). So each user's server connects as a role
  named like its JupyterHub user and can neither read nor write anyone else's rows;
- the owner (the admin's role, which runs the first migration) is not subject to the policies
  (no ``FORCE ROW LEVEL SECURITY``) and reads the whole lab: that is :func:`lab_summary`;
- ``lab_minutes`` (lab-wide counts per minute) is granted to nobody; the trigger functions
  that maintain the rollups are ``SECURITY DEFINER`` (run as the owner, with a fixed
  ``search_path``), so a user's insert updates them without the user holding any right on them;
- privileges go to ``PUBLIC`` within the schema: who may connect at all is the database's
  ``CONNECT`` privilege, which the admin grants (see the README's "Lab usage" section).
"""

from __future__ import annotations

from labadvisor.usage.schema import ROLLUP_BUSY_PERCENT

SCHEMA = "labadvisor"
# Serialises concurrent first-use migrations (pg_advisory_xact_lock key; "labadvis").
MIGRATION_LOCK = 0x6C61626164766973

_RAW_TABLES = (
    "ticks",
    "gpu_samples",
    "holder_samples",
    "context_samples",
    "offload_samples",
    "kernel_contexts",
)
_USER_ROLLUPS = ("usage_hourly", "lab_hourly")


def _own_rows(table: str, privileges: str) -> str:
    return f"""
ALTER TABLE {SCHEMA}.{table} ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON {SCHEMA}.{table}
    USING (user_name = current_user) WITH CHECK (user_name = current_user);
GRANT {privileges} ON {SCHEMA}.{table} TO PUBLIC;
"""


def _upsert_hourly(kind: str, key: str, busy: str, peak: str, source: str) -> str:
    return f"""
    INSERT INTO usage_hourly AS h
        (hour, user_name, server_name, kind, key, seconds, busy_seconds, peak)
    SELECT ts / 3600, user_name, server_name, '{kind}', {key}, sum(seconds), sum({busy}),
           {peak}
    FROM {source} GROUP BY 1, 2, 3, 5 ORDER BY 1, 2, 3, 5
    ON CONFLICT (hour, user_name, server_name, kind, key) DO UPDATE SET
        seconds = h.seconds + excluded.seconds,
        busy_seconds = h.busy_seconds + excluded.busy_seconds,
        peak = greatest(h.peak, excluded.peak);
"""


def _trigger(table: str, body: str) -> str:
    return f"""
CREATE FUNCTION {SCHEMA}.{table}_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {SCHEMA}, pg_temp AS $body$
BEGIN
{body}
    RETURN NULL;
END
$body$;
REVOKE ALL ON FUNCTION {SCHEMA}.{table}_rollup() FROM PUBLIC;
CREATE TRIGGER {table}_rollup AFTER INSERT ON {SCHEMA}.{table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION {SCHEMA}.{table}_rollup();
"""


_TICKS_ROLLUP = (
    _upsert_hourly("tick", "''", "0", "NULL::bigint", "new_rows")
    + """
    INSERT INTO lab_hourly AS h (hour, user_name, server_name, seconds, gpu_held_seconds)
    SELECT ts / 3600, user_name, server_name, sum(seconds), sum(gpus_held * seconds)
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (hour, user_name, server_name) DO UPDATE SET
        seconds = h.seconds + excluded.seconds,
        gpu_held_seconds = h.gpu_held_seconds + excluded.gpu_held_seconds;
    INSERT INTO lab_minutes AS m (minute, server_seconds, gpu_wanted_seconds, gpu_held_seconds)
    SELECT ts / 60, sum(seconds), sum(gpus_wanted * seconds), sum(gpus_held * seconds)
    FROM new_rows GROUP BY 1 ORDER BY 1
    ON CONFLICT (minute) DO UPDATE SET
        server_seconds = m.server_seconds + excluded.server_seconds,
        gpu_wanted_seconds = m.gpu_wanted_seconds + excluded.gpu_wanted_seconds,
        gpu_held_seconds = m.gpu_held_seconds + excluded.gpu_held_seconds;
"""
)

_V1 = (
    f"""
CREATE TABLE {SCHEMA}.ledger_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
GRANT SELECT ON {SCHEMA}.ledger_info TO PUBLIC;
CREATE TABLE {SCHEMA}.ticks (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, ts BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    gpus_held INTEGER NOT NULL DEFAULT 0, gpus_wanted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_name, server_name, ts)
);
CREATE INDEX ticks_ts ON {SCHEMA}.ticks (ts);
CREATE TABLE {SCHEMA}.gpu_samples (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, gpu TEXT NOT NULL, ts BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    utilization DOUBLE PRECISION, memory_used BIGINT, memory_total BIGINT,
    PRIMARY KEY (user_name, server_name, gpu, ts)
);
CREATE INDEX gpu_samples_ts ON {SCHEMA}.gpu_samples (ts);
CREATE TABLE {SCHEMA}.holder_samples (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, gpu TEXT NOT NULL,
    holder TEXT NOT NULL, ts BIGINT NOT NULL, seconds DOUBLE PRECISION NOT NULL,
    memory_used BIGINT NOT NULL, kernel_id TEXT,
    PRIMARY KEY (user_name, server_name, gpu, holder, ts)
);
CREATE INDEX holder_samples_ts ON {SCHEMA}.holder_samples (ts);
CREATE TABLE {SCHEMA}.context_samples (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, scope TEXT NOT NULL, ts BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL, context TEXT NOT NULL, role TEXT,
    PRIMARY KEY (user_name, server_name, scope, ts)
);
CREATE INDEX context_samples_ts ON {SCHEMA}.context_samples (ts);
CREATE TABLE {SCHEMA}.offload_samples (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, ts BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL, state TEXT NOT NULL, source TEXT NOT NULL,
    billable BOOLEAN NOT NULL,
    PRIMARY KEY (user_name, server_name, ts)
);
CREATE INDEX offload_samples_ts ON {SCHEMA}.offload_samples (ts);
CREATE TABLE {SCHEMA}.kernel_contexts (
    user_name TEXT NOT NULL, server_name TEXT NOT NULL, kernel_id TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL, context TEXT, role TEXT,
    PRIMARY KEY (user_name, server_name, kernel_id, ts)
);
CREATE TABLE {SCHEMA}.usage_hourly (
    hour BIGINT NOT NULL, user_name TEXT NOT NULL, server_name TEXT NOT NULL,
    kind TEXT NOT NULL, key TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL, busy_seconds DOUBLE PRECISION NOT NULL, peak BIGINT,
    PRIMARY KEY (hour, user_name, server_name, kind, key)
);
CREATE TABLE {SCHEMA}.lab_hourly (
    hour BIGINT NOT NULL, user_name TEXT NOT NULL, server_name TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL, gpu_held_seconds DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, user_name, server_name)
);
CREATE TABLE {SCHEMA}.lab_minutes (
    minute BIGINT PRIMARY KEY, server_seconds DOUBLE PRECISION NOT NULL,
    gpu_wanted_seconds DOUBLE PRECISION NOT NULL, gpu_held_seconds DOUBLE PRECISION NOT NULL
);
"""
    + "".join(_own_rows(table, "SELECT, INSERT, DELETE") for table in _RAW_TABLES)
    + "".join(_own_rows(table, "SELECT, DELETE") for table in _USER_ROLLUPS)
    + "ALTER TABLE labadvisor.lab_minutes ENABLE ROW LEVEL SECURITY;\n"
    + _trigger("ticks", _TICKS_ROLLUP)
    + _trigger(
        "gpu_samples",
        _upsert_hourly(
            "gpu",
            "gpu",
            f"CASE WHEN utilization >= {ROLLUP_BUSY_PERCENT:g} THEN seconds ELSE 0 END",
            "max(memory_used)",
            "new_rows",
        ),
    )
    + _trigger(
        "offload_samples",
        _upsert_hourly(
            "offload",
            "source",
            "CASE WHEN billable THEN seconds ELSE 0 END",
            "NULL::bigint",
            "new_rows",
        ),
    )
)

# Each entry takes the schema from version i to i + 1. Never edit a released entry: append.
MIGRATIONS: tuple[str, ...] = (_V1,)
VERSION = len(MIGRATIONS)
