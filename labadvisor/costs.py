"""Monthly cost of local hardware against Docker Offload's hourly rate, and the break-even.

:func:`monthly_cost_arrays` is the one cost formula: :func:`monthly_costs` calls it for one
scenario, ``sweep()`` for a million, ``plots.breakeven`` for a curve.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from labadvisor.guides import offload_guide
from labadvisor.offload_facts import CostDefaults
from labadvisor.units import check_finite_number, check_hours_per_day

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Cheaper = Literal["local", "offload", "equal"]

# Two monthly figures differing by less than this fraction of the larger one (or of $1,
# for figures under $1) count as equal: float rounding must not pick a side.
_EQUAL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CostComparison:
    """Local vs Offload spend per month at a given daily usage."""

    hours_per_day: float
    days: float
    team_size: int
    local_monthly: float
    offload_rate: float
    local: float
    offload: float
    cheaper: Cheaper
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
            f"{self.hours_per_day:g} h/day over {self.days:g} days{team}: "
            f"local ${self.local:,.2f}, Offload ${self.offload:,.2f} per month; "
            f"{self.cheaper_text}; break-even at {self.breakeven_hours_per_day:.2f} h/day"
        )

    def _repr_html_(self) -> str:
        return f"<div class='labadvisor-costs'>{html.escape(str(self))}</div>"


# Codes of CostArrays.cheaper, in this order.
CHEAPER: tuple[Cheaper, ...] = ("local", "offload", "equal")


@dataclass(frozen=True)
class CostArrays:
    """Element-wise results of the cost model, each in the broadcast shape of its inputs."""

    local: npt.NDArray[np.float64]  # USD per month
    offload: npt.NDArray[np.float64]  # USD per month
    cheaper: npt.NDArray[np.int8]  # index into CHEAPER
    breakeven_hours_per_day: npt.NDArray[np.float64]  # inf where Offload is free


def monthly_cost_arrays(
    hours_per_day: npt.ArrayLike,
    *,
    offload_rate: npt.ArrayLike,
    local_monthly: npt.ArrayLike,
    team_size: npt.ArrayLike,
    days: float,
) -> CostArrays:
    """The cost model, element-wise over already checked numbers or NumPy arrays.

    Each team member is counted with their own local machine and their own Offload hours,
    as the guide's "Team of 5" row does. Two monthly figures within a relative 1e-9 of
    each other count as equal. NumPy is imported on first use, not with labadvisor.
    """
    import numpy as np

    hours, rate, local_each, team = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (hours_per_day, offload_rate, local_monthly, team_size)
        )
    )
    local = local_each * team
    offload = rate * hours * days * team
    difference = local - offload
    tolerance = _EQUAL_TOLERANCE * np.maximum(1.0, np.maximum(local, offload))
    cheaper = np.where(np.abs(difference) <= tolerance, 2, np.where(difference < 0, 0, 1))
    monthly_rate = rate * days
    breakeven = np.divide(
        local_each, monthly_rate, out=np.full(monthly_rate.shape, np.inf), where=monthly_rate > 0
    )
    return CostArrays(local, offload, cheaper.astype(np.int8), breakeven)


def cost_defaults() -> CostDefaults:
    """The guide's default local monthly cost, Offload rate and days per month."""
    return offload_guide().costs.defaults


def resolve_rates(
    local_monthly: float | None, offload_rate: float | None, days: float | None
) -> tuple[float, float, float]:
    """Local USD/month, Offload USD/hour and days/month: checked, the guide's where None."""
    defaults = cost_defaults()
    local_monthly = check_finite_number(
        defaults.local_monthly if local_monthly is None else local_monthly,
        "local_monthly",
        minimum=0,
    )
    offload_rate = check_finite_number(
        defaults.offload_rate if offload_rate is None else offload_rate,
        "offload_rate",
        minimum=0,
    )
    return local_monthly, offload_rate, resolve_days(days)


def resolve_days(days: float | None) -> float:
    """Days of use per month: the guide's default when None, else more than 0 and at most 31.

    Whole days come back as an int, so they print as "30 days".
    """
    value = check_finite_number(
        cost_defaults().days if days is None else days,
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
    local_monthly: float | None = None,
    offload_rate: float | None = None,
    days: float | None = None,
) -> float:
    """Daily Offload hours at which a month of Offload costs what local costs.

    Defaults come from the guide: $75/month local, $0.50/h Offload, 30 days → 5 h/day.
    A free Offload rate gives infinity (Offload is never dearer).
    """
    local_monthly, offload_rate, days = resolve_rates(local_monthly, offload_rate, days)
    costs = monthly_cost_arrays(
        0.0, offload_rate=offload_rate, local_monthly=local_monthly, team_size=1, days=days
    )
    return float(costs.breakeven_hours_per_day)


def monthly_costs(
    hours_per_day: float,
    *,
    days: float | None = None,
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
    local_monthly, offload_rate, days = resolve_rates(local_monthly, offload_rate, days)
    costs = monthly_cost_arrays(
        hours,
        offload_rate=offload_rate,
        local_monthly=local_monthly,
        team_size=team_size,
        days=days,
    )
    return CostComparison(
        hours_per_day=hours,
        days=days,
        team_size=team_size,
        local_monthly=local_monthly,
        offload_rate=offload_rate,
        local=float(costs.local),
        offload=float(costs.offload),
        cheaper=CHEAPER[int(costs.cheaper)],
        breakeven_hours_per_day=float(costs.breakeven_hours_per_day),
    )
