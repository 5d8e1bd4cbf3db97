"""The SQLite ledger's tables, and the migrations that build them step by step.

``schema_version`` holds one row: the number of migrations applied. Opening a ledger applies
the missing ones in one transaction each, so an older file is brought up to date and a newer
one (written by a later labadvisor) is refused rather than misread.

Raw samples (one row per tick and subject) are kept for the retention period. Version 2 adds
``usage_hourly``, a per-hour rollup maintained by triggers on insert: a year of per-minute
samples for 4 GPUs is about 2.6 million raw rows, but under 70,000 hourly ones, which is what
lets ``summary(days=365)`` answer in well under 200 ms. The triggers fire only for rows
actually inserted, so a retried (ignored) duplicate never counts twice. GPU busy time is
rolled up at the default threshold (``ROLLUP_BUSY_PERCENT``); a summary at another threshold
reads the raw GPU samples instead.

Version 3 is for a lab (many users' servers in one ledger, see :mod:`labadvisor.usage.lab`):
each tick also records the GPUs its server holds and wants, and two more rollups answer the
admin's questions without reading raw rows: ``lab_hourly`` (per hour, user and server:
sampled seconds and GPU-held seconds) and ``lab_minutes`` (per minute, all servers together:
server-seconds, GPU-wanted and GPU-held seconds). A tick counts in the minute it starts in;
at the default 60 s interval a minute's server-seconds / 60 is the number of servers running.
"""

from __future__ import annotations

ROLLUP_BUSY_PERCENT = 10.0

_V1 = """
CREATE TABLE ledger_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ticks (
    server_name TEXT NOT NULL, ts INTEGER NOT NULL, user_name TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (server_name, ts)
) WITHOUT ROWID;
CREATE INDEX ticks_ts ON ticks (ts);
CREATE TABLE gpu_samples (
    server_name TEXT NOT NULL, gpu TEXT NOT NULL, ts INTEGER NOT NULL,
    user_name TEXT NOT NULL, seconds REAL NOT NULL,
    utilization REAL, memory_used INTEGER, memory_total INTEGER,
    PRIMARY KEY (server_name, gpu, ts)
) WITHOUT ROWID;
CREATE INDEX gpu_samples_ts ON gpu_samples (ts);
CREATE TABLE holder_samples (
    server_name TEXT NOT NULL, gpu TEXT NOT NULL, holder TEXT NOT NULL, ts INTEGER NOT NULL,
    user_name TEXT NOT NULL, seconds REAL NOT NULL, memory_used INTEGER NOT NULL,
    kernel_id TEXT,
    PRIMARY KEY (server_name, gpu, holder, ts)
) WITHOUT ROWID;
CREATE INDEX holder_samples_ts ON holder_samples (ts);
CREATE TABLE context_samples (
    server_name TEXT NOT NULL, scope TEXT NOT NULL, ts INTEGER NOT NULL,
    user_name TEXT NOT NULL, seconds REAL NOT NULL, context TEXT NOT NULL, role TEXT,
    PRIMARY KEY (server_name, scope, ts)
) WITHOUT ROWID;
CREATE INDEX context_samples_ts ON context_samples (ts);
CREATE TABLE offload_samples (
    server_name TEXT NOT NULL, ts INTEGER NOT NULL, user_name TEXT NOT NULL,
    seconds REAL NOT NULL, state TEXT NOT NULL, source TEXT NOT NULL,
    billable INTEGER NOT NULL,
    PRIMARY KEY (server_name, ts)
) WITHOUT ROWID;
CREATE INDEX offload_samples_ts ON offload_samples (ts);
CREATE TABLE kernel_contexts (
    server_name TEXT NOT NULL, kernel_id TEXT NOT NULL, ts REAL NOT NULL,
    user_name TEXT NOT NULL, context TEXT, role TEXT,
    PRIMARY KEY (server_name, kernel_id, ts)
) WITHOUT ROWID;
"""


def _rollup_trigger(table: str, kind: str, key: str, busy: str, peak: str) -> str:
    return f"""
CREATE TRIGGER {table}_rollup AFTER INSERT ON {table} BEGIN
    INSERT INTO usage_hourly (hour, server_name, kind, key, seconds, busy_seconds, peak)
    VALUES (NEW.ts / 3600, NEW.server_name, '{kind}', {key}, NEW.seconds, {busy}, {peak})
    ON CONFLICT (hour, server_name, kind, key) DO UPDATE SET
        seconds = seconds + excluded.seconds,
        busy_seconds = busy_seconds + excluded.busy_seconds,
        peak = max(coalesce(peak, excluded.peak), coalesce(excluded.peak, peak));
END;
"""


_GPU_BUSY = f"CASE WHEN utilization >= {ROLLUP_BUSY_PERCENT:g} THEN seconds ELSE 0 END"
_OFFLOAD_BILLED = "CASE WHEN billable THEN seconds ELSE 0 END"

_V2 = (
    """
CREATE TABLE usage_hourly (
    hour INTEGER NOT NULL, server_name TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    seconds REAL NOT NULL, busy_seconds REAL NOT NULL, peak INTEGER,
    PRIMARY KEY (hour, server_name, kind, key)
) WITHOUT ROWID;
"""
    + _rollup_trigger("ticks", "tick", "''", "0", "NULL")
    + _rollup_trigger(
        "gpu_samples",
        "gpu",
        "NEW.gpu",
        f"CASE WHEN NEW.utilization >= {ROLLUP_BUSY_PERCENT:g} THEN NEW.seconds ELSE 0 END",
        "NEW.memory_used",
    )
    + _rollup_trigger(
        "offload_samples",
        "offload",
        "NEW.source",
        "CASE WHEN NEW.billable THEN NEW.seconds ELSE 0 END",
        "NULL",
    )
    + f"""
INSERT INTO usage_hourly (hour, server_name, kind, key, seconds, busy_seconds, peak)
    SELECT ts / 3600, server_name, 'tick', '', sum(seconds), 0, NULL
    FROM ticks GROUP BY ts / 3600, server_name;
INSERT INTO usage_hourly (hour, server_name, kind, key, seconds, busy_seconds, peak)
    SELECT ts / 3600, server_name, 'gpu', gpu, sum(seconds), sum({_GPU_BUSY}), max(memory_used)
    FROM gpu_samples GROUP BY ts / 3600, server_name, gpu;
INSERT INTO usage_hourly (hour, server_name, kind, key, seconds, busy_seconds, peak)
    SELECT ts / 3600, server_name, 'offload', source, sum(seconds), sum({_OFFLOAD_BILLED}), NULL
    FROM offload_samples GROUP BY ts / 3600, server_name, source;
"""
)

_V3 = """
ALTER TABLE ticks ADD COLUMN gpus_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ticks ADD COLUMN gpus_wanted INTEGER NOT NULL DEFAULT 0;
CREATE TABLE lab_hourly (
    hour INTEGER NOT NULL, user_name TEXT NOT NULL, server_name TEXT NOT NULL,
    seconds REAL NOT NULL, gpu_held_seconds REAL NOT NULL,
    PRIMARY KEY (hour, user_name, server_name)
) WITHOUT ROWID;
CREATE TABLE lab_minutes (
    minute INTEGER PRIMARY KEY, server_seconds REAL NOT NULL,
    gpu_wanted_seconds REAL NOT NULL, gpu_held_seconds REAL NOT NULL
);
CREATE TRIGGER ticks_lab_rollup AFTER INSERT ON ticks BEGIN
    INSERT INTO lab_hourly (hour, user_name, server_name, seconds, gpu_held_seconds)
    VALUES (NEW.ts / 3600, NEW.user_name, NEW.server_name, NEW.seconds,
            NEW.gpus_held * NEW.seconds)
    ON CONFLICT (hour, user_name, server_name) DO UPDATE SET
        seconds = seconds + excluded.seconds,
        gpu_held_seconds = gpu_held_seconds + excluded.gpu_held_seconds;
    INSERT INTO lab_minutes (minute, server_seconds, gpu_wanted_seconds, gpu_held_seconds)
    VALUES (NEW.ts / 60, NEW.seconds, NEW.gpus_wanted * NEW.seconds,
            NEW.gpus_held * NEW.seconds)
    ON CONFLICT (minute) DO UPDATE SET
        server_seconds = server_seconds + excluded.server_seconds,
        gpu_wanted_seconds = gpu_wanted_seconds + excluded.gpu_wanted_seconds,
        gpu_held_seconds = gpu_held_seconds + excluded.gpu_held_seconds;
END;
INSERT INTO lab_hourly (hour, user_name, server_name, seconds, gpu_held_seconds)
    SELECT ts / 3600, user_name, server_name, sum(seconds), 0
    FROM ticks GROUP BY ts / 3600, user_name, server_name;
INSERT INTO lab_minutes (minute, server_seconds, gpu_wanted_seconds, gpu_held_seconds)
    SELECT ts / 60, sum(seconds), 0, 0 FROM ticks GROUP BY ts / 60;
"""

# Each entry takes the schema from version i to i + 1. Never edit an entry once released:
# append a new one.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
VERSION = len(MIGRATIONS)
