"""The lab view without a server: URL -> backend, password redaction, lab_summary on SQLite
(hand-made and generated labs), and the GPU demand the sampler records."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from labadvisor.usage import (
    Batch,
    GpuReading,
    HolderReading,
    Identity,
    PostgresLedger,
    Sample,
    SqliteLedger,
    UsageSampler,
    demo_lab,
    lab_summary,
    open_ledger,
    redact_url,
)
from labadvisor.usage.redaction import redact_text, url_password

NOW = 1_700_000_000 // 3600 * 3600 + 1800  # half past an hour
SECRET = "s3cr:t/p@ss"
SECRET_URL = "postgresql://alice:s3cr%3At%2Fp%40ss@db.example:5432/lab"


def test_redact_url_hides_the_password_in_every_form() -> None:
    assert redact_url(SECRET_URL) == "postgresql://alice:***@db.example:5432/lab"
    assert url_password(SECRET_URL) == SECRET
    assert redact_url("postgresql://db/lab?password=hunter2&sslmode=require") == (
        "postgresql://db/lab?password=***&sslmode=require"
    )
    assert redact_url("postgresql://alice@db/lab") == "postgresql://alice@db/lab"
    text = f"failed for {SECRET_URL}: password={SECRET!r} said {SECRET}"
    cleaned = redact_text(text, SECRET)
    assert SECRET not in cleaned and "s3cr%3At" not in cleaned and "hunter" not in cleaned


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_database_spools_with_one_redacted_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://alice:{quote(SECRET, safe='')}@127.0.0.1:{_closed_port()}/lab"
    ledger = PostgresLedger(
        url, spool=tmp_path / "spool.sqlite3", who=Identity("alice", "h"), connect_timeout_s=1
    )
    with ledger:
        for ts in (60, 120, 180):
            assert ledger.write(Batch((Sample(ts, 60.0, "alice", "h"),))) is False
        assert ledger.prune(90) == 0
        with pytest.raises(Exception) as read_error:
            ledger.recording_since()
        assert ledger.spool.pending() and ledger.outage is not None
        shown = [repr(ledger), ledger.location, str(read_error.value), ledger.outage]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "alice:***@127.0.0.1" in warnings[0]
    for text in (*shown, caplog.text):
        assert SECRET not in text and "s3cr:t" not in text and "%2Fp" not in text
    with SqliteLedger(tmp_path / "spool.sqlite3") as spool:
        assert spool.recording_since() == 60


def test_open_ledger_picks_the_backend_from_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("LABADVISOR_USAGE_URL", raising=False)
    default = open_ledger()
    assert isinstance(default, SqliteLedger) and default.location.endswith("usage.sqlite3")
    monkeypatch.setenv("LABADVISOR_USAGE_URL", SECRET_URL)
    lab = open_ledger()
    assert isinstance(lab, PostgresLedger) and SECRET not in repr(lab)
    assert lab.location == "postgresql://alice:***@db.example:5432/lab"
    assert str(lab.spool.path) == str(tmp_path / "data/labadvisor/usage-spool.sqlite3")
    file_url = open_ledger(f"sqlite://{tmp_path}/x.sqlite3")
    assert isinstance(file_url, SqliteLedger) and file_url.path == tmp_path / "x.sqlite3"
    assert isinstance(open_ledger(tmp_path / "y.sqlite3"), SqliteLedger)
    with pytest.raises(ValueError, match=r"mysql://root:\*\*\*@db/lab.*postgresql://") as error:
        open_ledger("mysql://root:hunter2@db/lab")
    assert "hunter2" not in str(error.value)
    assert not (tmp_path / "data").exists()  # choosing a backend opens nothing


def _lab(path: Path) -> Path:
    """Three users over two hours: alice holds the one GPU for 30 minutes while bob waits."""
    samples = []
    start = NOW - 7200
    for n in range(60):  # alice, the first hour; GPU for the first half
        held = 1 if n < 30 else 0
        gpus = (GpuReading("GPU 0", 90.0, 5, 10),) if held else ()
        samples.append(Sample(start + 60 * n, 60.0, "alice", "gpu-1/alice", gpus, (), (), None,
                              held, held))  # fmt: skip
    for n in range(10, 40):  # bob wants a GPU from minute 10 to 40, gets it after alice
        held = 1 if n >= 30 else 0
        samples.append(Sample(start + 60 * n, 60.0, "bob", "gpu-1/bob", (), (), (), None,
                              held, 1))  # fmt: skip
    for n in range(0, 120, 2):  # carol, every other minute, a CPU server
        samples.append(Sample(start + 60 * n, 60.0, "carol$", "cpu-1/carol$"))
    with SqliteLedger(path) as ledger:
        ledger.write(Batch(tuple(samples)))
    return path


def test_lab_summary_on_a_hand_made_lab(tmp_path: Path) -> None:
    summary = lab_summary(_lab(tmp_path / "lab$.sqlite3"), days=1, now=NOW)
    assert summary.active_users == summary.weekly_active_users == 3
    assert summary.gpus_present == 1 and summary.gpus_present_source == "reported"
    minutes_sampled = 60 + 30  # minutes 0..59 (alice), 60..119 every other one (carol)
    assert summary.sampled_minutes == minutes_sampled
    assert summary.peak_concurrent_servers == 3
    # concurrency: 3 in minutes 10..39 on even minutes (15), 2 elsewhere mostly
    assert summary.p95_concurrent_servers == 3
    assert summary.gpu_contention_minutes == 20  # minutes 10..29: alice holds, bob waits
    assert summary.gpu_contention == pytest.approx(20 / minutes_sampled)
    assert summary.peak_gpu_demand == 2
    assert summary.gpu_hours_by_user == {"alice": 0.5, "bob": pytest.approx(10 / 60)}
    assert summary.server_hours_by_user["carol$"] == 1.0
    assert lab_summary(tmp_path / "lab$.sqlite3", days=1, now=NOW, gpus=2).gpu_contention == 0

    json.dumps(summary.to_dict(), allow_nan=False)
    html = summary._repr_html_()
    assert "$" not in html and "lab&#36;.sqlite3" in html
    frame = summary.to_frame()
    assert list(frame.index) == ["alice", "bob", "carol$"]
    assert frame.loc["alice", "gpu_hours"] == 0.5
    inputs = summary.deployment_inputs()
    assert inputs["users"] == 3 and inputs["concurrent_users"] == 3
    # 20 of 90 minutes (22 %) is under the guide data's 25 % share: not yet the trigger
    assert inputs["migration_triggers"] == []
    assert summary.deployment_inputs(contention_trigger=0.2)["migration_triggers"] == [
        "GPU scheduling conflicts"
    ]
    assert any("peak 3 concurrent servers" in line for line in inputs["evidence"])


@pytest.mark.parametrize("share", [0.2, 0.25])
def test_deployment_inputs_and_advice_meet_the_gpu_trigger_at_one_share(
    tmp_path: Path, share: float
) -> None:
    """One threshold: the summary's inputs list the trigger exactly when the advice fires it."""
    from labadvisor import advise_deployment, configure
    from labadvisor.guides import deployment_guide

    summary = lab_summary(_lab(tmp_path / "lab.sqlite3"), days=1, now=NOW)
    configure({"compose-vs-k3s": {"growth": {"gpu_contention_share": share}}})
    try:
        listed = summary.deployment_inputs()["migration_triggers"]
        advice = advise_deployment(measured=summary, current="docker-compose")
        trigger = deployment_guide().growth.gpu_contention_trigger
        label = deployment_guide().triggers[trigger].label
    finally:
        configure(reset=True)
    fired = advice.deciding_reason.rule == "deploy.triggers"  # 3 users: nothing else is K3s
    assert (label in listed) == fired == (share <= 20 / 90)


def test_lab_summary_refuses_bad_input_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days must be a whole number from 1 to 3660, got 0"):
        lab_summary(tmp_path / "x.sqlite3", days=0)
    with pytest.raises(ValueError, match="gpus must be"):
        lab_summary(tmp_path / "x.sqlite3", gpus=-1)
    with pytest.raises(ValueError, match="no usage ledger at"):
        lab_summary(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()


def test_demo_lab_is_seeded_and_looks_like_a_lab(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    path = demo_lab(tmp_path / "demo.sqlite3", users=12, days=7, seed=1, now=now)
    summary = lab_summary(path, days=7, now=now)
    again = lab_summary(demo_lab(tmp_path / "again.sqlite3", users=12, days=7, seed=1, now=now),
                        days=7, now=now)  # fmt: skip
    assert summary.to_dict() | {"location": ""} == again.to_dict() | {"location": ""}
    assert 6 <= summary.active_users <= 12
    assert 1 <= summary.peak_concurrent_servers <= 12
    assert summary.gpus_present <= 8 and summary.gpu_hours_by_user
    with pytest.raises(ValueError, match="users must be a whole number"):
        demo_lab(tmp_path / "bad.sqlite3", users=0)


def test_the_sampler_records_gpus_held_and_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holders = [HolderReading("GPU 0", "a.ipynb", 5), HolderReading("GPU 0", "b.ipynb", 5)]
    monkeypatch.setenv("LABADVISOR_GPU_REQUEST", "2")
    sampler = UsageSampler(
        tmp_path / "u.sqlite3", read_gpus=list, read_holders=lambda: holders,
        read_context=lambda: ("default", "local"), read_offload=lambda: None,
        who=Identity("alice", "h"),
    )  # fmt: skip
    sample = sampler.take(NOW)
    assert (sample.gpus_held, sample.gpus_wanted) == (1, 2)
    monkeypatch.setenv("LABADVISOR_GPU_REQUEST", "lots")
    assert UsageSampler(tmp_path / "u.sqlite3", read_offload=lambda: None).gpu_request == 0
    with pytest.raises(ValueError, match="gpu_request must be a whole number of GPUs"):
        UsageSampler(tmp_path / "u.sqlite3", gpu_request=-1, read_offload=lambda: None)


def test_importing_the_usage_package_does_not_import_psycopg() -> None:
    import subprocess
    import sys

    code = (
        "import sys, labadvisor, labadvisor.usage; "
        "print(sorted(m for m in ('psycopg', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "[]"
