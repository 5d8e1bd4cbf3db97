"""What the ledger says about the last days: GPU hours, Offload hours and this month's cost.

The summary reads the hourly rollup (see :mod:`labadvisor.usage.schema`) grouped by local
calendar day in SQL, so a year of per-minute samples comes back as a few thousand rows. A
sample counts in the day its hour starts in (this matters only in time zones with a
half-hour offset). "Per day" averages over the calendar days the ledger has been recording
within the period, today included, so a ledger started yesterday is not diluted by 28 empty
days.

GPU hours are summed over GPUs (two GPUs busy for an hour are two GPU hours): the quantity
Docker Offload sells by the hour.

The measured hours behind ``hours_per_day="measured"`` (:func:`measured_usage`) are GPU
busy hours (local GPUs at or above the busy threshold, default 10 % utilization) plus
Docker Offload hours, per recorded day: the time the user's work held a GPU, here or on
Offload.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import math
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labadvisor.usage import schema
from labadvisor.usage.ledger_file import existing_ledger, ledger_path, no_ledger_message
from labadvisor.usage.records import SOURCE_CONTEXT
from labadvisor.usage.sampler import ledger_of
from labadvisor.usage.store import LedgerBackend

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BUSY_PERCENT = schema.ROLLUP_BUSY_PERCENT
MAX_DAYS = 3660
_BYTES_PER_GB = 1e9


@dataclass(frozen=True)
class DailyUsage:
    """One local calendar day, in hours."""

    date: str  # ISO date
    sampled_hours: float  # how long the sampler ran
    gpu_busy_hours: float
    offload_hours: float  # billed, upper-bound part included
    offload_upper_bound_hours: float  # counted from the Docker context alone
    offload_unbilled_hours: float  # session idle or stopped while a context pointed at it


@dataclass(frozen=True)
class UsageSummary:
    """The ledger over ``days`` local calendar days ending now."""

    location: str
    days: int
    period_start: str  # ISO local time
    period_end: str
    recording_since: str | None  # the oldest sample the ledger keeps
    days_recorded: int  # calendar days of the period since the ledger began: the divisor
    sampled_hours: float
    busy_threshold_percent: float
    gpu_busy_hours_per_day: float
    offload_hours_per_day: float
    offload_upper_bound: bool  # some Offload hours came from the context alone (no plugin)
    offload_upper_bound_hours_per_day: float
    offload_unbilled_hours_per_day: float
    month: str  # "YYYY-MM", the calendar month of offload_cost_month
    offload_hours_month: float
    offload_rate: float  # USD per hour
    offload_cost_month: float
    gpu_busy_hours_per_day_by_gpu: dict[str, float] = field(default_factory=dict)
    peak_gpu_memory_gb: dict[str, float] = field(default_factory=dict)  # per notebook/holder
    peak_gpu_memory_gb_by_gpu: dict[str, float] = field(default_factory=dict)
    daily: tuple[DailyUsage, ...] = ()

    @property
    def has_data(self) -> bool:
        return self.sampled_hours > 0

    @property
    def measured_hours_per_day(self) -> float:
        """GPU hours a day, local GPUs and Offload together; ValueError with no samples."""
        if not self.has_data:
            raise ValueError(self.no_data_message())
        return self.gpu_busy_hours_per_day + self.offload_hours_per_day

    @property
    def measured_text(self) -> str:
        """What ``hours_per_day="measured"`` quotes: "measured: 3.2 h/day of GPU or Offload
        use over the last 30 days (12 days recorded; ledger since 2024-05-01)"."""
        hours = self.measured_hours_per_day
        since = (self.recording_since or "")[:10]
        recorded = (
            "" if self.days_recorded >= self.days else f"{self.days_recorded} days recorded; "
        )
        bound = "; Offload hours an upper bound" if self.offload_upper_bound else ""
        return (
            f"measured: {hours:.1f} h/day of GPU or Offload use over the last {self.days} "
            f"days ({recorded}ledger since {since}{bound})"
        )

    def no_data_message(self) -> str:
        advice = "pass hours_per_day as a number instead"
        if self.recording_since is None:
            return (
                f"no measured usage yet: the usage ledger at {self.location} has not recorded "
                "anything (the Jupyter server extension samples once a minute while the server "
                f"runs); {advice}"
            )
        since = dt.datetime.fromisoformat(self.recording_since)
        age = dt.datetime.fromisoformat(self.period_end) - since
        return (
            f"no measured usage in the last {self.days} days: the usage ledger at "
            f"{self.location} has been recording since {since:%Y-%m-%d %H:%M} "
            f"({_duration(age.total_seconds())}) but holds no samples in that period; {advice}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (no NaN or infinity)."""
        out = asdict(self)
        out["has_data"] = self.has_data
        return _finite(out)

    def to_frame(self) -> pd.DataFrame:
        """One row per day (pandas is imported here, not with labadvisor)."""
        import pandas as pd

        frame = pd.DataFrame([asdict(day) for day in self.daily])
        if frame.empty:
            return pd.DataFrame(columns=[f.name for f in _daily_fields()]).set_index("date")
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.set_index("date")

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write the per-day rows to a CSV file; returns its path."""
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ValueError(f"path must be a file path, got {path!r}")
        target = Path(path)
        names = [f.name for f in _daily_fields()]
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for day in self.daily:
                writer.writerow([getattr(day, name) for name in names])
        return target

    def __str__(self) -> str:
        if not self.has_data:
            return f"Usage: {self.no_data_message()}"
        bound = " (upper bound: no Offload plugin to ask)" if self.offload_upper_bound else ""
        return (
            f"Usage over the last {self.days} days ({self.days_recorded} recorded): "
            f"GPU busy {self.gpu_busy_hours_per_day:.2f} h/day "
            f"(utilization >= {self.busy_threshold_percent:g} %), "
            f"Offload {self.offload_hours_per_day:.2f} h/day{bound}; "
            f"Offload this month ({self.month}): {self.offload_hours_month:.2f} h, "
            f"${self.offload_cost_month:,.2f} at ${self.offload_rate:,.2f}/h"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("period", f"{self.period_start[:10]} to {self.period_end[:10]}"),
            ("recording since", (self.recording_since or "never")[:16]),
            ("days recorded", str(self.days_recorded)),
            (
                f"GPU busy (>= {self.busy_threshold_percent:g} %)",
                f"{self.gpu_busy_hours_per_day:.2f} h/day",
            ),
            (
                "Offload",
                f"{self.offload_hours_per_day:.2f} h/day"
                + (" (upper bound)" if self.offload_upper_bound else ""),
            ),
            (
                f"Offload in {self.month}",
                f"{self.offload_hours_month:.2f} h, ${self.offload_cost_month:,.2f} "
                f"at ${self.offload_rate:,.2f}/h",
            ),
        ]
        rows += [
            (f"peak GPU memory: {holder}", f"{gb:.1f} GB")
            for holder, gb in sorted(self.peak_gpu_memory_gb.items())
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
            for k, v in rows
        )
        note = "" if self.has_data else f"<p>{_esc(self.no_data_message())}</p>"
        return f"<div class='labadvisor-usage'><b>Usage ledger</b>{note}<table>{body}</table></div>"


def summary(
    days: int = 30,
    path: str | os.PathLike[str] | None = None,
    *,
    busy_threshold_percent: float = DEFAULT_BUSY_PERCENT,
    offload_rate: float | None = None,
    ledger: LedgerBackend | None = None,
    now: float | None = None,
) -> UsageSummary:
    """Summarise the last ``days`` local calendar days (today included) of the ledger at
    ``path`` (default: :func:`~labadvisor.usage.store.default_path`) or of ``ledger``."""
    days = _check_days(days)
    threshold = _check_number(busy_threshold_percent, "busy_threshold_percent", 0, 100)
    rate = _offload_rate(offload_rate)
    now = time.time() if now is None else _check_number(now, "now", 0, None)
    backend = ledger if ledger is not None else ledger_of(path)
    try:
        return _summarise(backend, days, threshold, rate, now)
    finally:
        if ledger is None:
            backend.close()


def measured_usage(
    days: int = 30,
    path: str | os.PathLike[str] | None = None,
    *,
    busy_threshold_percent: float = DEFAULT_BUSY_PERCENT,
    ledger: LedgerBackend | None = None,
    now: float | None = None,
) -> UsageSummary:
    """The summary behind ``hours_per_day="measured"``, known to have samples: its
    :attr:`~UsageSummary.measured_hours_per_day` (GPU busy hours plus Offload hours per
    recorded day) and :attr:`~UsageSummary.measured_text`.

    ValueError where there is nothing to measure from: no ledger file at ``path`` (it is
    never created by reading), or no samples in the period (saying how long the ledger has
    been recording).
    """
    days = _check_days(days)
    if ledger is None and existing_ledger(path) is None:
        raise ValueError(no_ledger_message(ledger_path(path)))
    found = summary(
        days, path, busy_threshold_percent=busy_threshold_percent, ledger=ledger, now=now
    )
    if not found.has_data:
        raise ValueError(found.no_data_message())
    return found


def measured_hours_per_day(
    days: int = 30,
    path: str | os.PathLike[str] | None = None,
    *,
    busy_threshold_percent: float = DEFAULT_BUSY_PERCENT,
    ledger: LedgerBackend | None = None,
    now: float | None = None,
) -> float:
    """GPU hours a day the ledger measured (local GPUs busy plus Offload), for
    ``hours_per_day="measured"``; ValueError saying how long it has recorded if it has nothing."""
    return measured_usage(
        days, path, busy_threshold_percent=busy_threshold_percent, ledger=ledger, now=now
    ).measured_hours_per_day


def _summarise(
    backend: LedgerBackend, days: int, threshold: float, rate: float, now: float
) -> UsageSummary:
    today = dt.date.fromtimestamp(now)
    first_day = today - dt.timedelta(days=days - 1)
    period_start = _midnight(first_day)
    month_start = _midnight(today.replace(day=1))
    since = int(min(period_start, month_start))
    rows = backend.daily(since, int(now) + 1, threshold)
    recording_since = backend.recording_since()

    first_iso, month_iso = first_day.isoformat(), today.replace(day=1).isoformat()
    daily: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_gpu: dict[str, float] = defaultdict(float)
    peak_by_gpu: dict[str, int] = {}
    month_offload = 0.0
    for row in rows:
        if row.kind == "offload" and row.day >= month_iso:
            month_offload += row.busy_seconds
        if row.day < first_iso:
            continue
        totals = daily[row.day]
        if row.kind == "tick":
            totals["sampled_hours"] += row.seconds
        elif row.kind == "gpu":
            totals["gpu_busy_hours"] += row.busy_seconds
            by_gpu[row.key] += row.busy_seconds
            if row.peak is not None:
                peak_by_gpu[row.key] = max(peak_by_gpu.get(row.key, 0), row.peak)
        elif row.kind == "offload":
            totals["offload_hours"] += row.busy_seconds
            totals["offload_unbilled_hours"] += row.seconds - row.busy_seconds
            if row.key == SOURCE_CONTEXT:
                totals["offload_upper_bound_hours"] += row.busy_seconds

    if recording_since is None:
        days_recorded = 0
    else:
        began = max(first_day, dt.date.fromtimestamp(recording_since))
        days_recorded = max((today - began).days + 1, 0)
    per_day = 3600.0 * max(days_recorded, 1)

    table = tuple(
        DailyUsage(day, *(round(daily[day][name] / 3600.0, 6) for name in _HOUR_FIELDS))
        for day in ((first_day + dt.timedelta(days=n)).isoformat() for n in range(days))
    )
    total = {name: sum(daily[d][name] for d in daily) for name in _HOUR_FIELDS}
    holder_peaks = backend.holder_peaks(int(period_start), int(now) + 1)
    month_hours = month_offload / 3600.0
    return UsageSummary(
        location=backend.location,
        days=days,
        period_start=_iso(period_start),
        period_end=_iso(now),
        recording_since=None if recording_since is None else _iso(recording_since),
        days_recorded=days_recorded,
        sampled_hours=total["sampled_hours"] / 3600.0,
        busy_threshold_percent=threshold,
        gpu_busy_hours_per_day=total["gpu_busy_hours"] / per_day,
        offload_hours_per_day=total["offload_hours"] / per_day,
        offload_upper_bound=total["offload_upper_bound_hours"] > 0,
        offload_upper_bound_hours_per_day=total["offload_upper_bound_hours"] / per_day,
        offload_unbilled_hours_per_day=total["offload_unbilled_hours"] / per_day,
        month=f"{today:%Y-%m}",
        offload_hours_month=month_hours,
        offload_rate=rate,
        offload_cost_month=month_hours * rate,
        gpu_busy_hours_per_day_by_gpu={k: v / per_day for k, v in sorted(by_gpu.items())},
        peak_gpu_memory_gb={k: v / _BYTES_PER_GB for k, v in sorted(holder_peaks.items())},
        peak_gpu_memory_gb_by_gpu={k: v / _BYTES_PER_GB for k, v in sorted(peak_by_gpu.items())},
        daily=table,
    )


_HOUR_FIELDS = (
    "sampled_hours",
    "gpu_busy_hours",
    "offload_hours",
    "offload_upper_bound_hours",
    "offload_unbilled_hours",
)


def _daily_fields() -> tuple[Any, ...]:
    from dataclasses import fields

    return fields(DailyUsage)


def _midnight(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time.min).timestamp()  # local midnight


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _esc(text: str) -> str:
    # "$" as an entity: JupyterLab would typeset text between two dollars as LaTeX.
    return html.escape(text).replace("$", "&#36;")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _check_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}")
    return days


def _check_number(value: object, what: str, low: float, high: float | None) -> float:
    from labadvisor.units import check_finite_number

    return check_finite_number(value, what, minimum=low, maximum=high)


def _offload_rate(rate: float | None) -> float:
    if rate is None:
        from labadvisor.costs import cost_defaults

        rate = cost_defaults().offload_rate
    return _check_number(rate, "offload_rate", 0, None)
