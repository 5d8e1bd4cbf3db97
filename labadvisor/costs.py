"""Monthly cost of local hardware against Docker Offload's hourly rate, and the break-even."""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import Any

from labadvisor.guides import offload_data
from labadvisor.units import check_finite_number, check_hours_per_day

# Two monthly figures closer than this (USD) count as equal.
_EQUAL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CostComparison:
    """Local vs Offload spend per month at a given daily usage."""

    hours_per_day: float
    days: int
    team_size: int
    local_monthly: float
    offload_rate: float
    local: float
    offload: float
    cheaper: str
    breakeven_hours_per_day: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if math.isinf(self.breakeven_hours_per_day):
            out["breakeven_hours_per_day"] = None  # JSON has no infinity
        return out

    @property
    def cheaper_text(self) -> str:
        return {"local": "local is cheaper", "offload": "Offload is cheaper"}.get(
            self.cheaper, "both cost the same"
        )

    def __str__(self) -> str:
        team = f" for {self.team_size} people" if self.team_size > 1 else ""
        return (
            f"{self.hours_per_day:g} h/day over {self.days} days{team}: "
            f"local ${self.local:,.2f}, Offload ${self.offload:,.2f} per month; "
            f"{self.cheaper_text}; break-even at {self.breakeven_hours_per_day:.2f} h/day"
        )

    def _repr_html_(self) -> str:
        return f"<div class='labadvisor-costs'>{html.escape(str(self))}</div>"


def cost_defaults() -> dict[str, Any]:
    """The guide's default local monthly cost, Offload rate and days per month."""
    return dict(offload_data()["costs"]["defaults"])


def _resolve(
    local_monthly: float | None, offload_rate: float | None, days: int | None
) -> tuple[float, float, int | float]:
    defaults = cost_defaults()
    local_monthly = check_finite_number(
        defaults["local_monthly"] if local_monthly is None else local_monthly,
        "local_monthly",
        minimum=0,
    )
    offload_rate = check_finite_number(
        defaults["offload_rate"] if offload_rate is None else offload_rate,
        "offload_rate",
        minimum=0,
    )
    return local_monthly, offload_rate, resolve_days(days)


def resolve_days(days: float | None) -> int | float:
    """Days of use per month: the guide's default when None, else more than 0 and at most 31."""
    value = check_finite_number(
        cost_defaults()["days"] if days is None else days,
        "days",
        minimum=0,
        maximum=31,
        strict_minimum=True,
    )
    return int(value) if value.is_integer() else value


def check_team_size(team_size: object) -> int:
    if isinstance(team_size, bool) or not isinstance(team_size, int) or team_size < 1:
        raise ValueError(
            f"team_size must be a whole number of people, at least 1; got {team_size!r}"
        )
    return team_size


def breakeven_hours_per_day(
    local_monthly: float | None = None, offload_rate: float | None = None, days: int | None = None
) -> float:
    """Daily Offload hours at which a month of Offload costs what local costs.

    Defaults come from the guide: $75/month local, $0.50/h Offload, 30 days → 5 h/day.
    A free Offload rate gives infinity (Offload is never dearer).
    """
    local_monthly, offload_rate, days = _resolve(local_monthly, offload_rate, days)
    if offload_rate == 0:
        return math.inf
    return local_monthly / (offload_rate * days)


def monthly_costs(
    hours_per_day: float,
    *,
    days: int | None = None,
    local_monthly: float | None = None,
    offload_rate: float | None = None,
    team_size: int = 1,
) -> CostComparison:
    """Compare a month of local hardware with a month of Offload at ``hours_per_day``.

    Each team member is counted with their own local machine and their own Offload hours,
    as the guide's "Team of 5" row does.
    """
    hours = check_hours_per_day(hours_per_day)
    team_size = check_team_size(team_size)
    local_monthly, offload_rate, days = _resolve(local_monthly, offload_rate, days)
    local = local_monthly * team_size
    offload = offload_rate * hours * days * team_size
    if abs(local - offload) <= _EQUAL_TOLERANCE * max(1.0, local, offload):
        cheaper = "equal"
    else:
        cheaper = "local" if local < offload else "offload"
    return CostComparison(
        hours_per_day=hours,
        days=days,
        team_size=team_size,
        local_monthly=local_monthly,
        offload_rate=offload_rate,
        local=local,
        offload=offload,
        cheaper=cheaper,
        breakeven_hours_per_day=breakeven_hours_per_day(local_monthly, offload_rate, days),
    )
