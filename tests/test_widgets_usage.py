"""The dashboard's usage tab, driven without a browser: a real SQLite ledger in a temp
directory, the state's figures against ``labadvisor.usage.summary()``, the rendered HTML
against what a person should read."""

from __future__ import annotations

import html
import re
import threading
import time
from pathlib import Path

import pytest
from usage_fixtures import at, minutes, sample

from labadvisor.usage import Batch, GpuReading, OffloadReading, Sample, SqliteLedger, summary
from labadvisor.widgets.usage_state import THREAD_NAME, UsageState
from labadvisor.widgets.usage_view import EMPTY_CLASS, UsagePanel

NOW = at("2026-05-20 18:00")
RATE = 0.5
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STARTED = OffloadReading("started", "plugin", True)
UPPER_BOUND = OffloadReading("unknown", "context", True)


def thread_names() -> list[str]:
    return [t.name for t in threading.enumerate()]


def text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def write(path: Path, samples: list[Sample]) -> Path:
    with SqliteLedger(path) as ledger:
        assert ledger.write(Batch(tuple(samples)))
    return path


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """05-19 10:00, 2 h with GPU 0 at 80 %; 05-20 09:00, 1 h of Offload started; 05-02,
    2 h of Offload counted from the context alone (this month, outside a 7-day period)."""
    samples = [sample(ts, offload=UPPER_BOUND) for ts in minutes("2026-05-02 10:00", 120)]
    samples += [
        Sample(ts, 60.0, "alice", "host", (GpuReading("GPU 0", 80, 10**9, 10**10),), ())
        for ts in minutes("2026-05-19 10:00", 120)
    ]
    samples += [sample(ts, offload=STARTED) for ts in minutes("2026-05-20 09:00", 60)]
    return write(tmp_path / "usage.sqlite3", samples)


def test_the_usage_tab_shows_what_summary_says(ledger_path: Path) -> None:
    panel = UsagePanel(path=ledger_path, days=7, now=NOW, offload_rate=RATE)
    assert panel.state.wait(30)
    expected = summary(7, ledger_path, now=NOW, offload_rate=RATE)
    assert panel.state.summary == expected
    assert panel.state.notice is None and panel.state.error is None
    assert expected.gpu_busy_hours_per_day == pytest.approx(2 / 7)  # the ledger is as meant
    assert expected.offload_cost_month == pytest.approx(3 * RATE)
    shown = text(panel.figures.value)
    assert "2026-05-14 to 2026-05-20 (7 days, 7 recorded)" in shown
    assert f"{expected.gpu_busy_hours_per_day:.2f} h/day" in shown
    assert f"Docker Offload{expected.offload_hours_per_day:.2f} h/day (upper bound" not in shown
    assert f"{expected.offload_hours_per_day:.2f} h/day" in shown
    assert "Offload so far in 2026-05$1.50 for 3.00 h at $0.50/h" in shown
    assert panel.state.chart_png is not None and panel.state.chart_png.startswith(PNG_MAGIC)
    assert panel.chart.value == panel.state.chart_png and panel.chart.layout.display is None
    assert panel.notice.value == "" and panel.status.value == ""

    panel.days.value = 30  # the selector reads the ledger again, for 30 days
    assert panel.state.wait(30)
    wider = summary(30, ledger_path, now=NOW, offload_rate=RATE)
    assert panel.state.summary == wider and panel.state.days == 30
    assert "(upper bound: counted from the Docker context" in text(panel.figures.value)
    assert f"{wider.offload_hours_per_day:.2f} h/day" in text(panel.figures.value)
    panel.close()
    assert THREAD_NAME not in thread_names()


def test_reading_and_drawing_happen_in_the_background(ledger_path: Path) -> None:
    start = time.perf_counter()
    state = UsageState(path=ledger_path, days=7, now=NOW)
    built = time.perf_counter() - start
    assert state.pending or state.summary is not None
    assert THREAD_NAME in thread_names() or state.summary is not None
    assert state.wait(30) and not state.pending
    assert THREAD_NAME not in thread_names()  # the worker ends once the chart is drawn
    assert state.summary is not None and state.chart_png is not None
    assert built < 5  # matplotlib's import, not a draw, is what construction may cost


def test_dollar_amounts_are_never_mathematics(ledger_path: Path) -> None:
    panel = UsagePanel(path=ledger_path, days=7, now=NOW, offload_rate=RATE)
    panel.state.wait(30)
    markup = panel.figures.value
    assert markup.count("<span class='labadvisor-dollar'>&#36;</span>") == 2
    for piece in re.split(r"<[^>]*>", markup):
        decoded = html.unescape(piece)
        assert "$" not in decoded or decoded == "$", markup
    panel.close()


def test_an_empty_ledger_says_it_has_no_samples_and_how_it_gets_them(tmp_path: Path) -> None:
    path = write(tmp_path / "usage.sqlite3", [])
    panel = UsagePanel(path=path, days=7, now=NOW)
    panel.state.wait(30)
    notice = panel.state.notice or ""
    assert notice.startswith(f"The usage ledger at {path} has no samples yet.")
    assert "server extension records one sample a minute" in notice
    assert EMPTY_CLASS in panel.notice.value and notice in text(panel.notice.value)
    assert panel.state.summary is not None and not panel.state.summary.has_data
    assert panel.state.chart_png is None and panel.chart.layout.display == "none"
    assert "h/day" not in text(panel.figures.value)  # no zeros that look like measurements
    assert "period: 2026-05-14 to 2026-05-20" in text(panel.figures.value)
    panel.close()


def test_no_ledger_file_is_said_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "usage.sqlite3"
    state = UsageState(path=path, now=NOW)
    state.wait(30)
    assert state.notice is not None
    assert state.notice.startswith(f"There is no usage ledger at {path} yet.")
    assert "server extension" in state.notice
    assert state.summary is None and state.error is None
    assert not path.parent.exists()


def test_a_ledger_with_only_older_samples_says_since_when(tmp_path: Path) -> None:
    path = write(tmp_path / "usage.sqlite3", [sample(ts) for ts in minutes("2026-03-01 09:00", 5)])
    state = UsageState(path=path, days=7, now=NOW)
    state.wait(30)
    assert state.notice is not None
    assert "has been recording since 2026-03-01 09:00 but holds no samples in the last 7 days" in (
        state.notice
    )


def test_a_ledger_that_cannot_be_read_is_the_tabs_message(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    path.mkdir()  # a directory where the file should be
    panel = UsagePanel(path=path, now=NOW)
    panel.state.wait(30)
    assert (panel.state.error or "").startswith(f"cannot read the usage ledger at {path}: ")
    assert "labadvisor-error" in panel.status.value
    assert panel.state.summary is None and not panel.state.pending
    panel.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 0}, "days must be a whole number from 1 to 3660, got 0"),
        ({"days": "7"}, "days must be a whole number from 1 to 3660, got '7'"),
        ({"path": 42}, "path must be the usage ledger's file path, got 42"),
        ({"offload_rate": -1}, "offload_rate"),
    ],
)
def test_bad_options_are_refused_with_the_valid_values(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        UsageState(**options)


def test_days_set_in_code_outside_the_range_are_refused(ledger_path: Path) -> None:
    state = UsageState(path=ledger_path, days=7, now=NOW, chart=False)
    state.wait(30)
    with pytest.raises(ValueError, match="from 1 to 3660, got 5000"):
        state.days = 5000
    assert state.days == 7
    panel = UsagePanel(UsageState(path=ledger_path, days=14, now=NOW, chart=False))
    assert panel.days.label == "last 14 days"  # a period not among the choices is listed
    panel.state.wait(30)
    panel.close()
