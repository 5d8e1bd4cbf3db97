"""The admin's view of a lab: who used it, how many servers ran at once, GPU contention.

:func:`lab_summary` reads a lab ledger, the lab's PostgreSQL (with the admin's own role,
which row-level security lets read every user's rows) or a SQLite file holding many users
(the demo). It reads only the rollups (see :mod:`labadvisor.usage.schema`), so 90 days of a
200-user lab (26 million ticks) answers in well under two seconds.

Definitions, over the ``days`` × 24 hours ending now (hour boundaries for the per-user
figures, minute boundaries for the concurrent ones):

- **active users**: distinct users with samples; **weekly active users**: the same over the
  last 7 days, and per 7-day window back from now;
- **concurrent servers** in a minute: the server-seconds sampled in it / 60 (at the default
  60 s interval, the servers that took a sample); **peak** and **p95** (nearest rank) over
  the *sampled minutes*, the minutes in which at least one server ran;
- **GPU demand** in a minute: GPUs held or asked for (per server, see
  :class:`~labadvisor.usage.records.Sample`); **GPU contention**: the share of sampled
  minutes in which demand exceeded the GPUs present;
- **GPUs present**: ``gpus`` when the admin passes it, else the distinct GPUs (host, label)
  that servers reported in the period. Servers that each see the same shared GPUs under
  their own host names (containers on one host) overcount them: pass ``gpus=`` there;
- **GPU hours by user**: hours the user's servers held GPU memory, times the GPUs held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from labadvisor.usage.backends import is_postgres, sqlite_path, usage_url
from labadvisor.usage.ledger_file import existing_ledger
from labadvisor.usage.redaction import redact_text, redact_url, url_password
from labadvisor.usage.store import LedgerUnavailable
from labadvisor.usage.summary import _esc, _finite

if TYPE_CHECKING:
    import pandas as pd

MAX_DAYS = 3660

Fetch = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class LabSummary:
    """What a lab's servers did over ``days`` days; see the module docstring."""

    location: str  # never with a password
    days: int
    period_start: str  # ISO local time
    period_end: str
    active_users: int
    weekly_active_users: int  # the last 7 days
    weekly_active_users_by_week: dict[str, int]  # window start (ISO date) -> users, oldest first
    sampled_minutes: int
    peak_concurrent_servers: int
    peak_at: str | None  # ISO local time of the (first) peak minute
    p95_concurrent_servers: int
    gpus_present: int
    gpus_present_source: str  # "given" or "reported"
    peak_gpu_demand: int
    gpu_contention: float  # 0..1 of sampled minutes
    gpu_contention_minutes: int
    server_hours_by_user: dict[str, float] = field(default_factory=dict)
    gpu_hours_by_user: dict[str, float] = field(default_factory=dict)  # most first

    @property
    def has_data(self) -> bool:
        return self.sampled_minutes > 0

    def deployment_inputs(self, contention_trigger: float | None = None) -> dict[str, Any]:
        """What the measurement says for :func:`labadvisor.advise_deployment`.

        ``users`` (active users) is a keyword it takes today; ``concurrent_users`` (the peak),
        ``p95_concurrent_users``, ``gpu_contention`` and ``migration_triggers`` (the guide's
        trigger names the data meets) are for its ``measured=`` input; ``evidence`` quotes the
        figures, for reasons. The "GPU scheduling conflicts" trigger is met from the share of
        sampled minutes that ``advise_deployment(measured=...)`` uses too: the guide data's
        ``growth.gpu_contention_share`` (25 %, overridable with ``configure``), unless
        ``contention_trigger`` is given.
        """
        from labadvisor.guides import deployment_guide

        growth = deployment_guide().growth
        share = growth.gpu_contention_share if contention_trigger is None else contention_trigger
        triggers = []
        if self.gpu_contention >= share:
            triggers.append(deployment_guide().triggers[growth.gpu_contention_trigger].label)
        return {
            "users": self.active_users,
            "concurrent_users": self.peak_concurrent_servers,
            "p95_concurrent_users": self.p95_concurrent_servers,
            "gpu_contention": self.gpu_contention,
            "migration_triggers": triggers,
            "evidence": self.evidence(),
        }

    def evidence(self) -> list[str]:
        """The measured figures, as sentences an advice can quote."""
        if not self.has_data:
            return [f"no samples in the last {self.days} days at {self.location}"]
        period = f"in the last {self.days} days"
        lines = [
            f"{self.active_users} active users {period} ({self.weekly_active_users} in the last 7)",
            f"peak {self.peak_concurrent_servers} concurrent servers {period} "
            f"(p95 {self.p95_concurrent_servers})",
        ]
        if self.gpus_present or self.peak_gpu_demand:
            lines.append(
                f"GPU demand exceeded the {self.gpus_present} GPUs present in "
                f"{self.gpu_contention:.1%} of sampled minutes (peak demand "
                f"{self.peak_gpu_demand})"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (no NaN or infinity); the location has no password."""
        out = asdict(self)
        out["has_data"] = self.has_data
        return dict(_finite(out))

    def to_frame(self) -> pd.DataFrame:
        """One row per user: server hours and GPU hours (pandas imported here)."""
        import pandas as pd

        users = sorted(set(self.server_hours_by_user) | set(self.gpu_hours_by_user))
        frame = pd.DataFrame(
            {
                "user": users,
                "server_hours": [self.server_hours_by_user.get(u, 0.0) for u in users],
                "gpu_hours": [self.gpu_hours_by_user.get(u, 0.0) for u in users],
            }
        )
        return frame.set_index("user").sort_values("gpu_hours", ascending=False)

    def __str__(self) -> str:
        if not self.has_data:
            return f"Lab usage at {self.location}: no samples in the last {self.days} days"
        return f"Lab usage at {self.location}: " + "; ".join(self.evidence())

    def __repr__(self) -> str:
        return (
            f"LabSummary(location={self.location!r}, days={self.days}, "
            f"active_users={self.active_users}, peak_concurrent_servers="
            f"{self.peak_concurrent_servers}, gpu_contention={self.gpu_contention:.3f})"
        )

    def _repr_html_(self) -> str:
        rows = [
            ("period", f"{self.period_start[:16]} to {self.period_end[:16]}"),
            ("active users", str(self.active_users)),
            ("weekly active users (last 7 days)", str(self.weekly_active_users)),
            ("sampled minutes", f"{self.sampled_minutes:,}"),
            (
                "concurrent servers",
                f"peak {self.peak_concurrent_servers} ({(self.peak_at or '')[:16]}), "
                f"p95 {self.p95_concurrent_servers}",
            ),
            (
                f"GPU contention ({self.gpus_present} GPUs, {self.gpus_present_source})",
                f"{self.gpu_contention:.1%} of sampled minutes "
                f"({self.gpu_contention_minutes:,}), peak demand {self.peak_gpu_demand}",
            ),
        ]
        top = list(self.gpu_hours_by_user.items())[:10]
        rows += [(f"GPU hours: {user}", f"{hours:,.1f}") for user, hours in top]
        body = "".join(
            f"<tr><th style='text-align:left'>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
            for k, v in rows
        )
        return (
            f"<div class='labadvisor-lab-usage'><b>Lab usage</b> "
            f"<small>{_esc(self.location)}</small><table>{body}</table></div>"
        )


def lab_summary(
    url: str | os.PathLike[str] | None = None,
    days: int = 30,
    *,
    gpus: int | None = None,
    now: float | None = None,
) -> LabSummary:
    """Summarise the lab ledger at ``url`` (``postgresql://...`` with the admin's role, or a
    SQLite path or ``sqlite:///`` URL; default ``$LABADVISOR_USAGE_URL``) over ``days`` days.

    ``gpus`` states the GPUs the lab has (default: those its servers reported).
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0):
        raise ValueError(f"gpus must be a whole number, 0 or more, or None, got {gpus!r}")
    chosen = usage_url(url)
    if chosen is None:
        raise ValueError(
            "lab_summary needs the lab's usage URL: pass it or set LABADVISOR_USAGE_URL "
            "(postgresql://admin@host/db, or a SQLite file)"
        )
    end = time.time() if now is None else float(now)
    if is_postgres(chosen):
        with _postgres(chosen) as fetch:
            return _summarise(fetch, redact_url(chosen), "labadvisor.", days, gpus, end)
    path = sqlite_path(chosen)
    if existing_ledger(path) is None:
        raise ValueError(f"no usage ledger at {path} (lab_summary reads, it never creates one)")
    with _sqlite(path) as fetch:
        return _summarise(fetch, str(path), "", days, gpus, end)


@contextlib.contextmanager
def _postgres(url: str) -> Iterator[Fetch]:
    from labadvisor.usage.postgres import _psycopg, connect, schema_version

    pg = _psycopg()
    password = url_password(url)
    connection = connect(url)
    try:

        def fetch(sql: str, parameters: Sequence[object]) -> list[tuple[Any, ...]]:
            return list(connection.execute(sql.replace("?", "%s"), parameters).fetchall())

        try:
            with connection.transaction():
                if schema_version(connection) == 0:
                    raise LedgerUnavailable(f"no lab usage ledger at {redact_url(url)} yet")
                yield fetch
        except pg.Error as exc:
            raise LedgerUnavailable(
                f"cannot read the lab's usage at {redact_url(url)}: "
                f"{redact_text(str(exc), password)}"
            ) from None
    finally:
        connection.close()


@contextlib.contextmanager
def _sqlite(path: os.PathLike[str]) -> Iterator[Fetch]:
    uri = f"file:{os.fspath(path)}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=5.0)
    try:
        version = connection.execute(
            "SELECT version FROM schema_version"
        ).fetchone()  # raises for a file that is not a ledger
        if version is None or int(version[0]) < 3:
            raise LedgerUnavailable(
                f"{os.fspath(path)} is a usage ledger from before lab rollups (schema 3): "
                "open it once with this labadvisor (SqliteLedger) to migrate it"
            )

        def fetch(sql: str, parameters: Sequence[object]) -> list[tuple[Any, ...]]:
            return list(connection.execute(sql, parameters).fetchall())

        yield fetch
    except sqlite3.DatabaseError as exc:
        raise LedgerUnavailable(f"cannot read the usage ledger {os.fspath(path)}: {exc}") from None
    finally:
        connection.close()


def _summarise(
    fetch: Fetch, location: str, t: str, days: int, gpus: int | None, end: float
) -> LabSummary:
    start = end - days * 86400
    hours = (int(start) // 3600, int(end) // 3600 + 1)
    minutes = (int(start) // 60, int(end) // 60 + 1)

    per_user = fetch(
        f"SELECT user_name, sum(seconds), sum(gpu_held_seconds) FROM {t}lab_hourly "
        "WHERE hour >= ? AND hour < ? GROUP BY user_name",
        hours,
    )
    last_hour = hours[1] - 1
    weeks = fetch(
        f"SELECT (CAST(? AS BIGINT) - hour) / 168 AS week, count(DISTINCT user_name) "
        f"FROM {t}lab_hourly WHERE hour >= ? AND hour < ? GROUP BY week",
        (last_hour, *hours),
    )
    histogram = fetch(
        f"SELECT CAST(round(server_seconds / 60.0) AS BIGINT) AS servers, count(*) "
        f"FROM {t}lab_minutes WHERE minute >= ? AND minute < ? AND server_seconds > 0 "
        "GROUP BY servers ORDER BY servers",
        minutes,
    )
    peak_rows = fetch(
        f"SELECT minute, server_seconds FROM {t}lab_minutes WHERE minute >= ? AND minute < ? "
        "ORDER BY server_seconds DESC, minute LIMIT 1",
        minutes,
    )
    demand_rows = fetch(
        f"SELECT max(gpu_wanted_seconds) FROM {t}lab_minutes WHERE minute >= ? AND minute < ?",
        minutes,
    )
    if gpus is None:
        reported = fetch(
            f"SELECT DISTINCT server_name, key FROM {t}usage_hourly "
            "WHERE kind = 'gpu' AND hour >= ? AND hour < ?",
            hours,
        )
        present = len({(str(server).split("/", 1)[0], str(gpu)) for server, gpu in reported})
    else:
        present = gpus
    contended = fetch(
        f"SELECT count(*) FROM {t}lab_minutes WHERE minute >= ? AND minute < ? "
        "AND server_seconds > 0 AND gpu_wanted_seconds > ?",
        (*minutes, present * 60.0 + 1e-6),
    )

    sampled = sum(int(n) for _, n in histogram)
    contention_minutes = int(contended[0][0]) if contended else 0
    server_hours = {str(u): float(s) / 3600 for u, s, _ in per_user}
    gpu_hours = {str(u): float(g) / 3600 for u, _, g in per_user if g and float(g) > 0}
    by_week = {
        dt.date.fromtimestamp((last_hour - 168 * int(w) - 167) * 3600).isoformat(): int(n)
        for w, n in sorted(weeks, key=lambda row: -int(row[0]))
    }
    peak_minute = int(peak_rows[0][0]) if peak_rows and peak_rows[0][1] else None
    peak_demand = demand_rows[0][0] if demand_rows and demand_rows[0][0] is not None else 0
    return LabSummary(
        location=location,
        days=days,
        period_start=_iso(start),
        period_end=_iso(end),
        active_users=len(server_hours),
        weekly_active_users=next((int(n) for w, n in weeks if int(w) == 0), 0),
        weekly_active_users_by_week=by_week,
        sampled_minutes=sampled,
        peak_concurrent_servers=max((int(c) for c, _ in histogram), default=0),
        peak_at=None if peak_minute is None else _iso(peak_minute * 60),
        p95_concurrent_servers=_nearest_rank([(int(c), int(n)) for c, n in histogram], 0.95),
        gpus_present=present,
        gpus_present_source="reported" if gpus is None else "given",
        peak_gpu_demand=math.ceil(float(peak_demand) / 60 - 1e-9),
        gpu_contention=contention_minutes / sampled if sampled else 0.0,
        gpu_contention_minutes=contention_minutes,
        server_hours_by_user=dict(sorted(server_hours.items())),
        gpu_hours_by_user=dict(sorted(gpu_hours.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _nearest_rank(histogram: list[tuple[int, int]], quantile: float) -> int:
    """The nearest-rank percentile of a sorted (value, count) histogram; 0 when empty."""
    total = sum(n for _, n in histogram)
    if not total:
        return 0
    rank = math.ceil(quantile * total)
    seen = 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return value
    return histogram[-1][0]


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
