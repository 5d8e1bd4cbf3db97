"""The lab ledger on a real PostgreSQL: schema on first use, idempotent writes, outages
through the SQLite spool, row-level privacy between users, and many servers at once."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from postgres_fixtures import LabDatabase, PostgresCluster

from labadvisor.usage import (
    Batch,
    GpuReading,
    HolderReading,
    Identity,
    KernelSwitch,
    OffloadReading,
    PostgresLedger,
    Sample,
    SpoolLedger,
    UsageSampler,
    lab_summary,
    migrate_lab,
    pg_schema,
)

GPU = (GpuReading("GPU 0", 50.0, 1_000, 10_000),)
T0 = 1_700_000_040  # a whole minute


def tick(
    ts: int,
    user: str = "alice",
    server: str = "node-1/alice",
    *,
    holders: tuple[HolderReading, ...] = (),
    offload: OffloadReading | None = None,
    gpus_held: int = 0,
    gpus_wanted: int = 0,
) -> Sample:
    return Sample(ts, 60.0, user, server, GPU, holders, (), offload, gpus_held, gpus_wanted)


def ledger_for(
    lab: LabDatabase, user: str, tmp_path: Path, *, who: Identity | None = None
) -> PostgresLedger:
    return PostgresLedger(
        lab.url(user),
        spool=tmp_path / f"spool-{user}.sqlite3",
        who=who or Identity(user, f"node-1/{user}"),
        connect_timeout_s=2,
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_schema_on_first_use_idempotent_writes_and_rollups(
    lab_db: LabDatabase, tmp_path: Path
) -> None:
    assert migrate_lab(lab_db.admin_url) == 0  # created now
    assert migrate_lab(lab_db.admin_url) == pg_schema.VERSION  # already there
    batch = Batch(
        tuple(
            tick(
                T0 + 60 * n,
                gpus_held=1,
                gpus_wanted=1,
                holders=(HolderReading("GPU 0", "train.ipynb", 900, "k1"),),
                offload=OffloadReading("started", "plugin", True),
            )
            for n in range(5)
        ),
        (KernelSwitch(T0 + 1.5, "alice", "node-1/alice", "k1", "docker-cloud", "offload"),),
    )
    with ledger_for(lab_db, "alice", tmp_path) as ledger:
        assert ledger.write(batch)
        assert ledger.write(batch)  # a retried batch
        assert ledger.schema_version() == pg_schema.VERSION
        assert ledger.kernel_contexts("node-1/alice", ["k1"]) == {"k1": ("docker-cloud", "offload")}
        assert ledger.holder_peaks(0, 2 * T0) == {"train.ipynb": 900}
        rows = {(r.kind, r.key): r for r in ledger.daily(0, 2 * T0, 10.0)}
    for table in ("ticks", "gpu_samples", "holder_samples", "offload_samples"):
        assert lab_db.count(table) == 5, table
    assert lab_db.count("kernel_contexts") == 1
    assert sum(r.seconds for r in rows.values() if r.kind == "tick") == 300.0
    assert sum(r.busy_seconds for r in rows.values() if r.kind == "gpu") == 300.0
    assert lab_db.query(
        "SELECT sum(server_seconds), sum(gpu_held_seconds) FROM labadvisor.lab_minutes"
    ) == [(300.0, 300.0)]
    assert lab_db.query("SELECT sum(seconds) FROM labadvisor.lab_hourly") == [(300.0,)]


def test_a_user_role_cannot_create_the_schema_and_says_who_can(
    lab_db: LabDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ledger_for(lab_db, "alice", tmp_path) as ledger:
        assert not ledger.write(Batch((tick(T0),)))
        assert not ledger.write(Batch((tick(T0 + 60),)))
        assert ledger.spool.pending()
    [warning] = warnings_of(caplog)
    assert "migrate_lab" in warning and "owner" in warning
    assert lab_db.passwords["alice"] not in caplog.text
    migrate_lab(lab_db.admin_url)
    with ledger_for(lab_db, "alice", tmp_path) as ledger:
        assert ledger.flush()
    assert lab_db.count("ticks") == 2


def test_outage_spools_locally_and_sends_exactly_once(
    postgres_cluster: PostgresCluster,
    lab_db: LabDatabase,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    migrate_lab(lab_db.admin_url)
    ledger = ledger_for(lab_db, "alice", tmp_path)
    try:
        assert ledger.write(Batch((tick(T0),)))
        postgres_cluster.stop()
        try:
            results = [ledger.write(Batch((tick(T0 + 60 * n),))) for n in range(1, 6)]
            assert results == [False] * 5
            # the first of them again: a retry must not double it
            assert not ledger.write(Batch((tick(T0 + 60),)))
            assert ledger.spool.pending()
        finally:
            postgres_cluster.start()
        assert ledger.write(Batch((tick(T0 + 360),)))
        assert not ledger.spool.pending()
    finally:
        ledger.close()
    assert lab_db.count("ticks") == 7 and lab_db.count("gpu_samples") == 7
    assert lab_db.query("SELECT sum(server_seconds) FROM labadvisor.lab_minutes") == [(420.0,)]
    [warning] = warnings_of(caplog)  # one warning for the whole outage, none per sample
    assert "kept in" in warning and lab_db.passwords["alice"] not in caplog.text
    assert "***" in warning


def test_a_spool_sent_twice_is_stored_once(lab_db: LabDatabase, tmp_path: Path) -> None:
    """A crash between the database's commit and the spool's delete resends the batch."""
    migrate_lab(lab_db.admin_url)
    spool = SpoolLedger(tmp_path / "spool.sqlite3")
    batch = Batch(tuple(tick(T0 + 60 * n) for n in range(3)))
    spool.write(batch)
    with ledger_for(lab_db, "alice", tmp_path) as ledger:
        assert ledger.write(spool.oldest(100))  # sent, but the spool was not told
    with PostgresLedger(lab_db.url("alice"), spool=spool) as ledger:
        assert ledger.flush()
    assert lab_db.count("ticks") == 3
    assert lab_db.query("SELECT sum(server_seconds) FROM labadvisor.lab_minutes") == [(180.0,)]


def test_users_see_and_write_only_their_own_rows(lab_db: LabDatabase, tmp_path: Path) -> None:
    import psycopg

    migrate_lab(lab_db.admin_url)
    with ledger_for(lab_db, "alice", tmp_path) as alice:
        assert alice.write(Batch((tick(T0),)))
    with ledger_for(lab_db, "bob", tmp_path) as bob:
        assert bob.write(Batch((tick(T0, "bob", "node-1/bob"),)))
        # bob's ledger reads only bob's rows
        assert bob.recording_since() == T0
    with psycopg.connect(lab_db.url("alice"), autocommit=True) as connection:
        users = connection.execute("SELECT DISTINCT user_name FROM labadvisor.ticks").fetchall()
        assert users == [("alice",)]
        assert (
            connection.execute("DELETE FROM labadvisor.ticks WHERE user_name = 'bob'").rowcount == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            connection.execute(
                "INSERT INTO labadvisor.ticks (user_name, server_name, ts, seconds) "
                "VALUES ('bob', 'node-1/bob', 60, 60)"
            )
        for sql in (
            "SELECT * FROM labadvisor.lab_minutes",
            "UPDATE labadvisor.lab_hourly SET seconds = 0",
            "UPDATE labadvisor.ticks SET seconds = 0",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(sql)
    # The admin reads everyone's rows.
    assert lab_summary(lab_db.admin_url, now=T0 + 120).active_users == 2


def test_a_server_writing_as_another_user_is_refused_and_spooled(
    lab_db: LabDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrate_lab(lab_db.admin_url)
    wrong = ledger_for(lab_db, "alice", tmp_path, who=Identity("bob", "node-1/bob"))
    with wrong:
        assert not wrong.write(Batch((tick(T0, "bob", "node-1/bob"),)))
        assert wrong.spool.pending()
    assert lab_db.count("ticks") == 0
    [warning] = warnings_of(caplog)
    assert "row-level security" in warning


def test_lab_summary_reads_postgres_as_it_reads_sqlite(lab_db: LabDatabase, tmp_path: Path) -> None:
    from labadvisor.usage import SqliteLedger

    migrate_lab(lab_db.admin_url)
    samples = {
        "alice": [tick(T0 + 60 * n, gpus_held=1, gpus_wanted=1) for n in range(30)],
        "bob": [tick(T0 + 60 * n, "bob", "node-1/bob", gpus_wanted=1) for n in range(10)],
    }
    sqlite_path = tmp_path / "lab.sqlite3"
    with SqliteLedger(sqlite_path) as local:
        for user, rows in samples.items():
            local.write(Batch(tuple(rows)))
            with ledger_for(lab_db, user, tmp_path) as ledger:
                assert ledger.write(Batch(tuple(rows)))
    now = T0 + 3600
    from_pg = lab_summary(lab_db.admin_url, days=1, now=now, gpus=1).to_dict()
    from_sqlite = lab_summary(f"sqlite://{sqlite_path}", days=1, now=now, gpus=1).to_dict()
    assert from_pg.pop("location") != from_sqlite.pop("location")
    assert from_pg == from_sqlite
    assert from_pg["peak_concurrent_servers"] == 2
    assert from_pg["gpu_contention_minutes"] == 10  # bob waited while alice held the GPU
    assert from_pg["gpu_hours_by_user"] == {"alice": 0.5}


@pytest.mark.slow
def test_twenty_servers_through_an_outage_lose_nothing_and_double_nothing(
    postgres_cluster: PostgresCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """20 sampler threads (the real loop, ledger and spool) at a 1 s interval for 30 s; the
    database is stopped after 8 s and started again 8 s later."""
    users = [f"user{n:02d}" for n in range(20)]
    lab = postgres_cluster.new_lab(users)
    migrate_lab(lab.admin_url)
    taken: dict[str, list[Sample]] = {user: [] for user in users}

    class Recording(UsageSampler):
        def sample_once(self, now: float | None = None) -> Sample:
            sample = super().sample_once(now)
            taken[sample.user].append(sample)
            return sample

    samplers = [
        Recording(
            PostgresLedger(
                lab.url(user),
                spool=tmp_path / f"{user}.sqlite3",
                who=Identity(user, f"node-{n % 3}/{user}"),
                connect_timeout_s=2,
            ),
            interval_s=1.0,
            read_gpus=lambda: list(GPU),
            read_context=lambda: ("default", "local"),
            read_offload=lambda: None,
            who=Identity(user, f"node-{n % 3}/{user}"),
            gpu_request=n % 2,
        )
        for n, user in enumerate(users)
    ]
    for sampler in samplers:
        sampler.start()
    try:
        time.sleep(8)
        postgres_cluster.stop()
        time.sleep(8)
        postgres_cluster.start()
        time.sleep(14)
    finally:
        for sampler in samplers:
            sampler._stop.set()
        for sampler in samplers:
            sampler.stop()
    spooled = [
        s for s in samplers if isinstance(s.ledger, PostgresLedger) and s.ledger.sent_from_spool
    ]
    assert len(spooled) == 20  # every server went through the outage

    expected = {(s.user, s.server, s.ts) for samples in taken.values() for s in samples}
    assert len(expected) == sum(len(v) for v in taken.values()) >= 20 * 25
    stored = lab.query("SELECT user_name, server_name, ts FROM labadvisor.ticks")
    assert len(stored) == len(set(stored))
    assert set(stored) == expected
    assert lab.count("gpu_samples") == len(expected)
    assert lab.query("SELECT sum(server_seconds) FROM labadvisor.lab_minutes") == [
        (float(len(expected)),)
    ]
    assert lab.query("SELECT sum(seconds) FROM labadvisor.lab_hourly") == [(float(len(expected)),)]
    for sampler in samplers:
        assert isinstance(sampler.ledger, PostgresLedger)
        assert not sampler.ledger.spool.pending()

    warnings = warnings_of(caplog)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for user in users:  # one warning per server for the one outage
        assert len([w for w in warnings if f"//{user}:***@" in w]) == 1, user
    assert not any(password in caplog.text for password in lab.passwords.values())


def test_lab_summary_errors_and_results_never_show_the_password(lab_db: LabDatabase) -> None:
    from labadvisor.usage.store import LedgerUnavailable

    with pytest.raises(LedgerUnavailable, match="no lab usage ledger") as missing:
        lab_summary(lab_db.admin_url)
    wrong = lab_db.admin_url.replace(lab_db.admin_password, "not-" + lab_db.admin_password)
    with pytest.raises(LedgerUnavailable, match="password authentication failed") as refused:
        lab_summary(wrong)
    migrate_lab(lab_db.admin_url)
    result = lab_summary(lab_db.admin_url)
    shown = [str(missing.value), str(refused.value), repr(result), str(result)]
    shown += [result._repr_html_(), json.dumps(result.to_dict())]
    for text in shown:
        assert lab_db.admin_password not in text
    assert "lab_admin:***@" in result.location
