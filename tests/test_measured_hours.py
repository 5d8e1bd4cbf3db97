"""hours_per_day="measured": monthly_costs, advise_runtime and plots.breakeven take the hours
from the usage ledger (GPU busy hours plus Docker Offload hours per recorded day), quote
them, and with no ledger or no samples say so without creating the file.

The ledger is a synthetic one in a temporary XDG_DATA_HOME (usage_fixtures.py): 2 hours of a
busy GPU and 1 hour of a started Offload session at local noon 9 days ago, so 10 calendar
days recorded (today included) and 3 h / 10 days = 0.3 h/day measured.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from usage_fixtures import days_ago_at_noon, sample, write_measured_ledger

import labadvisor
from labadvisor import advise_runtime, monthly_costs
from labadvisor.costs import measured_hours
from labadvisor.usage import Batch, GpuReading, SqliteLedger, existing_ledger, measured_usage

MEASURED = 3.0 / 10  # (120 + 60) minutes over the 10 days recorded


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty XDG_DATA_HOME: the default ledger lives under it."""
    home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def ledger(data_home: Path) -> Path:
    return write_measured_ledger(data_home)


def test_measured_hours_are_gpu_busy_plus_offload_per_recorded_day(ledger: Path) -> None:
    found = measured_hours()
    assert found.hours_per_day == pytest.approx(MEASURED)
    usage = measured_usage()
    assert usage.gpu_busy_hours_per_day == pytest.approx(0.2)
    assert usage.offload_hours_per_day == pytest.approx(0.1)
    first_day = dt.date.fromtimestamp(days_ago_at_noon(9)).isoformat()
    assert found.text == (
        "measured: 0.3 h/day of GPU or Offload use over the last 30 days "
        f"(10 days recorded; ledger since {first_day})"
    )


def test_monthly_costs_take_and_quote_the_measured_hours(ledger: Path) -> None:
    cost = monthly_costs("measured")
    given = monthly_costs(MEASURED)
    assert cost.hours_per_day == pytest.approx(MEASURED)
    assert (cost.local, cost.offload) == pytest.approx((given.local, given.offload))
    assert cost.measured is not None and cost.measured.startswith("measured: 0.3 h/day")
    assert given.measured is None
    assert "measured: 0.3 h/day of GPU or Offload use over the last 30 days" in str(cost)
    data = json.loads(json.dumps(cost.to_dict(), allow_nan=False))
    assert data["measured"] == cost.measured
    # The period is the caller's: over the last 7 days nothing was recorded.
    with pytest.raises(ValueError, match="no measured usage in the last 7 days"):
        monthly_costs("Measured", usage_days=7)


def test_advise_runtime_says_the_hours_were_measured(ledger: Path) -> None:
    advice = advise_runtime(13, gpu=None, hours_per_day="measured")
    assert advice.cost is not None and advice.cost.hours_per_day == pytest.approx(MEASURED)
    (text,) = [r.text for r in advice.reasons if r.rule == "cost.compare"]
    assert text.startswith("At 0.3 h/day (measured: 0.3 h/day of GPU or Offload use")
    assert "ledger since" in text
    assert advice.inputs["hours_per_day"] == "measured"
    # The choice never depends on the hours.
    assert advice.choice == advise_runtime(13, gpu=None).choice


def test_breakeven_marks_you_are_here_at_the_measured_hours(ledger: Path) -> None:
    fig = labadvisor.plots.breakeven(hours_per_day="measured")
    ax = fig.axes[0]
    (you,) = [line for line in ax.get_lines() if str(line.get_label()).startswith("you:")]
    assert you.get_label() == "you: 0.3 h/day (measured, last 30 days)"
    assert np.asarray(you.get_xdata(), dtype=float).tolist() == pytest.approx([MEASURED] * 2)
    assert "you are here" in [t.get_text() for t in ax.texts]


def test_several_busy_gpus_are_capped_at_a_day(data_home: Path) -> None:
    # Four GPUs busy for 16 hours yesterday: 64 GPU hours over 2 recorded days.
    four = tuple(GpuReading(f"GPU {n}", 95.0, 1, None) for n in range(4))
    start = days_ago_at_noon(1) - 11 * 3600
    with SqliteLedger(data_home / "labadvisor" / "usage.sqlite3") as ledger:
        ledger.write(Batch(tuple(sample(start + 60 * n, gpus=four) for n in range(16 * 60))))
    found = measured_hours()
    assert found.hours_per_day == 24.0
    assert "capped at 24 h/day (GPUs summed: 32.0 h/day)" in found.text


def test_no_ledger_is_a_clear_error_and_reading_creates_nothing(data_home: Path) -> None:
    path = data_home / "labadvisor" / "usage.sqlite3"
    for call in (
        lambda: monthly_costs("measured"),
        lambda: advise_runtime(13, gpu=None, hours_per_day="measured"),
        lambda: labadvisor.plots.breakeven(hours_per_day="measured"),
    ):
        with pytest.raises(ValueError, match="has not recorded anything") as caught:
            call()
        assert str(path) in str(caught.value)
        assert "pass hours_per_day as a number instead" in str(caught.value)
    assert not data_home.exists()  # not the file, not its directory
    assert existing_ledger() is None


def test_an_old_ledger_says_since_when_it_records(data_home: Path) -> None:
    write_measured_ledger(data_home, days_ago=40)
    with pytest.raises(
        ValueError, match=r"no measured usage in the last 30 days: .*recording since"
    ):
        monthly_costs("measured")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: monthly_costs("lots"), "hours_per_day must be a number of hours a day"),
        (lambda: monthly_costs("measured", usage_days=0), "usage_days must be a whole number"),
        (
            lambda: advise_runtime(13, gpu=None, hours_per_day="often"),
            "or 'measured' \\(from the usage ledger\\); got 'often'",
        ),
        (lambda: labadvisor.plots.breakeven(hours_per_day="x"), "hours_per_day must be"),
    ],
)
def test_bad_hours_name_the_valid_ones(data_home: Path, call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
