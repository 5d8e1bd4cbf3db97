"""State of the usage tab: what the usage ledger says about the last days, and its chart.

Reading the ledger and drawing the chart happen in the background
(:mod:`labadvisor.widgets._jobs`): ``summary`` and ``chart_png`` follow ``days`` a moment
later, ``pending`` is True meanwhile, and the worker thread ends once they are done.
Looking never writes: where the ledger file does not exist yet it is not created (opening
it would), and ``notice`` says so instead.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from traitlets import Bool, Bytes, HasTraits, Instance, Int, Unicode, observe, validate

from labadvisor.units import check_finite_number
from labadvisor.usage import UsageSummary, default_path, existing_ledger, summary
from labadvisor.usage.summary import MAX_DAYS
from labadvisor.widgets._jobs import BackgroundJobs
from labadvisor.widgets._plot import render_usage_png

THREAD_NAME = "labadvisor-usage"
DAY_CHOICES = (7, 30, 90, 365)


# Where the hours come from, for the notice shown while there are none.
HOW_IT_FILLS = (
    "The labadvisor Jupyter server extension records one sample a minute (GPU utilization "
    "and memory, the Docker context and Docker Offload's state) while the server runs, once "
    "its usage sampler is wired in; the hours appear here after it has run for a while."
)


@dataclass(frozen=True)
class _Reading:
    summary: UsageSummary | None = None
    notice: str | None = None
    error: str | None = None
    chart_png: bytes | None = None
    chart_error: str | None = None


class UsageState(HasTraits):
    """:func:`labadvisor.usage.summary` over the last ``days`` days, read in the background.

    ``path`` is the ledger (``location``; default: :func:`labadvisor.usage.default_path`),
    ``offload_rate`` overrides the guide's Offload price per hour, and ``now`` fixes the end
    of the period (default: the time of each read). Changing ``days`` or calling
    :meth:`refresh` reads the ledger again; ``error`` says why it could not be read (the
    last summary stays).
    ``notice`` says why there are no hours to show (no ledger file yet, or no samples in
    the period) and how the ledger fills; None once there are. ``chart_png`` is the
    hours-per-day bar chart, None while there are no samples.
    """

    days = Int(30)
    summary = Instance(UsageSummary, allow_none=True)
    notice = Unicode(None, allow_none=True)
    error = Unicode(None, allow_none=True)
    pending = Bool(False)
    chart_png = Bytes(None, allow_none=True)
    chart_error = Unicode(None, allow_none=True)

    def __init__(
        self,
        *,
        days: int = 30,
        path: str | os.PathLike[str] | None = None,
        offload_rate: float | None = None,
        now: float | None = None,
        chart: bool = True,
    ) -> None:
        if path is not None and (not isinstance(path, (str, os.PathLike)) or not str(path)):
            raise ValueError(f"path must be the usage ledger's file path, got {path!r}")
        if isinstance(days, bool) or not isinstance(days, int):
            raise ValueError(_days_problem(days))
        self.location = Path(path) if path is not None else default_path()
        self.offload_rate = (
            None
            if offload_rate is None
            else check_finite_number(offload_rate, "offload_rate", minimum=0)
        )
        self.now = None if now is None else check_finite_number(now, "now", minimum=0)
        self._chart = chart
        self._ready = False  # the constructor's own days value reads once, below
        # Not a daemon: interpreter exit waits for a chart being drawn (well under a second)
        # instead of killing matplotlib's C++ code mid-draw.
        self._jobs = BackgroundJobs(THREAD_NAME, daemon=False)
        if chart:
            # Import matplotlib here, on the caller's thread: an import racing in the worker
            # exposes half-initialised numpy/matplotlib modules to code on the main thread.
            import matplotlib.figure  # noqa: F401
        super().__init__(days=days)
        self._ready = True
        self.refresh()

    def refresh(self) -> None:
        """Read the ledger again (in the background)."""
        self.pending = True
        self._jobs.submit(
            "reading the usage ledger",
            partial(self._read, self.days),
            group="usage",
            on_done=self._done,
        )

    def wait(self, timeout: float | None = 10.0) -> bool:
        """Block until the read in progress is shown; True unless the timeout ran out."""
        return self._jobs.wait(timeout)

    @validate("days")
    def _valid_days(self, proposal: Any) -> int:
        days = proposal["value"]
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(_days_problem(days))
        return int(days)

    @observe("days")
    def _days_changed(self, _change: Any) -> None:
        if self._ready:
            self.refresh()

    def _read(self, days: int) -> _Reading:
        if existing_ledger(self.location) is None:
            return _Reading(
                notice=f"There is no usage ledger at {self.location} yet. {HOW_IT_FILLS}"
            )
        try:
            found = summary(days, self.location, offload_rate=self.offload_rate, now=self.now)
        except Exception as exc:  # a locked, unreadable or corrupt ledger: say which
            return _Reading(error=f"cannot read the usage ledger at {self.location}: {exc}")
        if not found.has_data:
            return _Reading(found, notice=nothing_recorded(found))
        if not self._chart:
            return _Reading(found)
        try:
            png = render_usage_png(found.daily)
        except Exception as exc:  # the figures still stand without their chart
            return _Reading(found, chart_error=f"{type(exc).__name__}: {exc}")
        return _Reading(found, chart_png=png)

    def _done(self, future: Future[_Reading]) -> None:
        reading = future.result()  # _read returns its failures
        with self.hold_trait_notifications():
            if reading.error is None:  # else the last answer stays, under the error
                self.summary = reading.summary
                self.notice = reading.notice
                # None too: no chart of an older summary beside this one's figures.
                self.set_trait("chart_png", reading.chart_png)
            self.error = reading.error
            self.chart_error = reading.chart_error
            self.pending = False


def _days_problem(days: object) -> str:
    return f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}"


def nothing_recorded(found: UsageSummary) -> str:
    """Why a ledger that exists has no hours for the period, and how it fills."""
    if found.recording_since is None:
        return f"The usage ledger at {found.location} has no samples yet. {HOW_IT_FILLS}"
    since = found.recording_since[:16].replace("T", " ")
    return (
        f"The usage ledger at {found.location} has been recording since {since} but holds "
        f"no samples in the last {found.days} days. {HOW_IT_FILLS}"
    )
