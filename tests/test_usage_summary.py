"""usage.summary() on a small synthetic ledger whose figures are worked out by hand."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from usage_fixtures import at, minutes, sample

from labadvisor.usage import (
    Batch,
    GpuReading,
    HolderReading,
    OffloadReading,
    Sample,
    SqliteLedger,
    measured_hours_per_day,
    summary,
)

NOW = at("2026-05-20 18:00")
STARTED = OffloadReading("started", "plugin", True)
IDLE = OffloadReading("idle", "plugin", False)
UPPER_BOUND = OffloadReading("unknown", "context", True)


def gpus(util0: float, util1: float, mem0: int) -> tuple[GpuReading, ...]:
    return (GpuReading("GPU 0", util0, mem0, 10**10), GpuReading("GPU 1", util1, 10**9, 10**10))


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """The ledger the expected figures below are computed from.

    In the 7 days from 2026-05-14 (NOW is 05-20 18:00):
    - 05-18 14:00, 30 min: Offload counted from the context alone (upper bound);
    - 05-19 10:00, 120 min: GPU 1 at 100 % throughout, GPU 0 at 50 % for 90 min then 5 %
      (3.5 GPU hours busy at 10 %, 4 at 5 %, 2 at 60 %); notebooks a (5 GB) and b (2 GB);
    - 05-20 09:00, 60 min Offload "started", then 30 min "idle".
    Before the period, counted only in May's cost: 05-02 2 h upper bound; April: 1 h started.
    """
    path = tmp_path / "usage.sqlite3"
    samples: list[Sample] = []
    samples += [sample(ts, offload=STARTED) for ts in minutes("2026-04-30 10:00", 60)]
    samples += [sample(ts, offload=UPPER_BOUND) for ts in minutes("2026-05-02 10:00", 120)]
    samples += [sample(ts, offload=UPPER_BOUND) for ts in minutes("2026-05-18 14:00", 30)]
    holders = (
        HolderReading("GPU 0", "a.ipynb", 5 * 10**9, "k-a"),
        HolderReading("GPU 1", "b.ipynb", 2 * 10**9, "k-b"),
    )
    for n, ts in enumerate(minutes("2026-05-19 10:00", 120)):
        readings = gpus(50 if n < 90 else 5, 100, 3 * 10**9 if n < 60 else 4 * 10**9)
        samples.append(Sample(ts, 60.0, "alice", "host", readings, holders if n == 0 else ()))
    samples += [sample(ts, offload=STARTED) for ts in minutes("2026-05-20 09:00", 60)]
    samples += [sample(ts, offload=IDLE) for ts in minutes("2026-05-20 10:00", 30)]
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch(tuple(samples)))
    return path


def test_figures_match_the_hand_computation(ledger_path: Path) -> None:
    result = summary(7, ledger_path, now=NOW, offload_rate=0.5)
    assert result.days == 7 and result.days_recorded == 7
    assert result.period_start.startswith("2026-05-14T00:00:00")
    assert result.recording_since is not None and result.recording_since.startswith("2026-04-30")
    assert result.sampled_hours == pytest.approx(0.5 + 2 + 1.5)
    assert result.gpu_busy_hours_per_day == pytest.approx(3.5 / 7)
    assert result.gpu_busy_hours_per_day_by_gpu == pytest.approx({"GPU 0": 1.5 / 7, "GPU 1": 2 / 7})
    assert result.offload_hours_per_day == pytest.approx(1.5 / 7)
    assert result.offload_upper_bound is True
    assert result.offload_upper_bound_hours_per_day == pytest.approx(0.5 / 7)
    assert result.offload_unbilled_hours_per_day == pytest.approx(0.5 / 7)
    assert result.month == "2026-05"
    assert result.offload_hours_month == pytest.approx(1 + 2 + 0.5)
    assert result.offload_cost_month == pytest.approx(3.5 * 0.5)
    assert result.peak_gpu_memory_gb == {"a.ipynb": 5.0, "b.ipynb": 2.0}
    assert result.peak_gpu_memory_gb_by_gpu == {"GPU 0": 4.0, "GPU 1": 1.0}
    assert result.measured_hours_per_day == pytest.approx(3.5 / 7 + 1.5 / 7)
    by_day = {day.date: day for day in result.daily}
    assert list(by_day) == [f"2026-05-{d}" for d in range(14, 21)]
    assert by_day["2026-05-19"].gpu_busy_hours == pytest.approx(3.5)
    assert by_day["2026-05-20"].offload_hours == pytest.approx(1.0)
    assert by_day["2026-05-20"].offload_unbilled_hours == pytest.approx(0.5)
    assert by_day["2026-05-18"].offload_upper_bound_hours == pytest.approx(0.5)
    assert by_day["2026-05-14"].sampled_hours == 0


def test_other_thresholds_read_the_raw_samples(ledger_path: Path) -> None:
    at_5 = summary(7, ledger_path, now=NOW, busy_threshold_percent=5)
    at_60 = summary(7, ledger_path, now=NOW, busy_threshold_percent=60)
    assert at_5.gpu_busy_hours_per_day == pytest.approx(4 / 7)
    assert at_60.gpu_busy_hours_per_day == pytest.approx(2 / 7)
    assert at_60.offload_hours_per_day == pytest.approx(1.5 / 7)  # unchanged by the threshold
    assert at_60.peak_gpu_memory_gb_by_gpu == {"GPU 0": 4.0, "GPU 1": 1.0}


def test_rate_comes_from_the_guide_data_and_its_overrides(ledger_path: Path) -> None:
    from labadvisor.costs import cost_defaults
    from labadvisor.guides import configure

    default = summary(7, ledger_path, now=NOW)
    assert default.offload_rate == cost_defaults().offload_rate
    configure({"offload-vs-local": {"costs": {"defaults": {"offload_rate": 2.0}}}})
    try:
        assert summary(7, ledger_path, now=NOW).offload_cost_month == pytest.approx(7.0)
    finally:
        configure(reset=True)


def test_per_day_divides_by_the_days_recorded(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    busy = (GpuReading("GPU 0", 80, 1, None),)
    with SqliteLedger(path) as ledger:
        ledger.write(Batch(tuple(sample(ts, gpus=busy) for ts in minutes("2026-05-19 20:00", 180))))
    result = summary(30, path, now=NOW)
    assert result.days_recorded == 2  # yesterday and today, not 30
    assert result.gpu_busy_hours_per_day == pytest.approx(3 / 2)
    assert len(result.daily) == 30


def test_to_dict_is_strict_json_and_html_escapes_dollars(ledger_path: Path) -> None:
    result = summary(7, ledger_path, now=NOW, offload_rate=0.5)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["offload_cost_month"] == pytest.approx(1.75)
    assert data["has_data"] is True and len(data["daily"]) == 7
    html = result._repr_html_()
    assert "$" not in html and "&#36;1.75" in html and "a.ipynb" in html
    assert "$1.75" in str(result) and "upper bound" in str(result)


def test_to_frame_has_one_row_per_day(ledger_path: Path) -> None:
    frame = summary(7, ledger_path, now=NOW).to_frame()
    assert len(frame) == 7 and frame.index.name == "date"
    assert frame.loc["2026-05-19", "gpu_busy_hours"] == pytest.approx(3.5)
    assert frame["offload_hours"].sum() == pytest.approx(1.5)


def test_export_writes_the_days_to_csv(ledger_path: Path, tmp_path: Path) -> None:
    target = summary(7, ledger_path, now=NOW).export(tmp_path / "usage.csv")
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["date"] for row in rows][-2:] == ["2026-05-19", "2026-05-20"]
    assert float(rows[-2]["gpu_busy_hours"]) == pytest.approx(3.5)
    with pytest.raises(ValueError, match="path must be a file path, got 3"):
        summary(7, ledger_path, now=NOW).export(3)  # type: ignore[arg-type]


def test_measured_hours_without_data_say_how_long_the_ledger_recorded(
    tmp_path: Path, ledger_path: Path
) -> None:
    missing = tmp_path / "nothing" / "usage.sqlite3"
    with pytest.raises(ValueError, match="has not recorded anything") as never:
        measured_hours_per_day(path=missing)
    assert str(missing) in str(never.value)
    assert summary(path=missing).to_dict()["has_data"] is False
    later = at("2026-09-20 12:00")  # months after the last sample
    with pytest.raises(ValueError, match=r"recording since 2026-04-30 10:00 \(143\.1 days\)"):
        measured_hours_per_day(7, ledger_path, now=later)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days must be a whole number from 1 to 3660, got 0"),
        ({"days": 2.5}, "got 2.5"),
        ({"days": True}, "got True"),
        ({"busy_threshold_percent": 101}, "busy_threshold_percent must be between 0 and 100"),
        ({"busy_threshold_percent": float("nan")}, "finite"),
        ({"offload_rate": -1}, "offload_rate must be at least 0, got -1"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict[str, object], message: str, tmp_path: Path):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        summary(path=tmp_path / "u.sqlite3", **kwargs)  # type: ignore[arg-type]


def test_import_stays_light() -> None:
    code = (
        "import sys, labadvisor.usage; "
        "print([m for m in ('pandas', 'pynvml', 'docker', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
