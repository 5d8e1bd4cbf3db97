"""Monthly cost of the user's local option against Docker Offload's hourly rate, and the
break-even, as a band over the guide's rate range.

What "local" costs depends on what the user has (``hardware``): a GPU workstation they own
(the guide's ~$75/month operating cost), one they would buy (that plus the purchase spread
over ``amortize_months``, with the payback in months), or only this machine's CPU (no GPU
costs: the comparison is then the CPU against Offload, never "local is cheaper").

:func:`monthly_cost_arrays` is the one cost formula: :func:`monthly_costs` calls it for one
scenario, ``sweep()`` for a million, ``plots.breakeven`` for a curve.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from labadvisor.explain import NO_MATH
from labadvisor.guides import offload_guide
from labadvisor.offload_facts import (
    HARDWARE,
    OFFLOAD_RATE_ID,
    STORAGE_ID,
    CostDefaults,
    Hardware,
    LocalOption,
)
from labadvisor.units import check_finite_number, check_hours_per_day, normalize_name

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Cheaper = Literal["local", "offload", "equal"]

# Two monthly figures differing by less than this fraction of the larger one (or of $1,
# for figures under $1) count as equal: float rounding must not pick a side.
_EQUAL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CostComparison:
    """The user's local option vs Offload, per month, at the given daily usage.

    ``local_monthly`` is per member (operating cost plus the purchase spread over
    ``amortize_months`` for ``buy-gpu``; 0 for ``cpu-only``); ``local`` and ``offload`` are
    the team's totals. ``breakeven_hours_per_day`` is at ``offload_rate`` (hours per member
    per day); ``breakeven_band`` spans the guide's rate range (``rate_band``), from its
    dearest rate to its cheapest. None stands for "never" in :meth:`to_dict`.
    """

    hours_per_day: float  # per member; the mean when members differ
    days: float
    team_size: int
    local_monthly: float
    offload_rate: float
    local: float
    offload: float
    cheaper: Cheaper
    breakeven_hours_per_day: float  # inf where Offload is free
    hardware: Hardware = "owned-gpu"
    local_label: str = "your owned GPU workstation"
    member_hours: tuple[float, ...] = ()
    operating_monthly: float = 0.0  # per member
    purchase_monthly: float = 0.0  # per member
    hardware_price: float | None = None  # per member, buy-gpu only
    amortize_months: int | None = None
    payback_months: float | None = None  # buy-gpu: months of Offload savings that repay it
    storage_gb: float = 0.0
    storage_monthly: float = 0.0
    rate_band: tuple[float, float] = (0.5, 2.0)
    offload_band: tuple[float, float] = (0.0, 0.0)  # the team's Offload cost at each end
    breakeven_band: tuple[float, float] = (0.0, 0.0)  # h/day at the dear end, the cheap end
    owned_gpu_breakeven_hours_per_day: float = 0.0  # an owned workstation's, for comparison
    # Where hours_per_day="measured" took the hours from: "measured: 3.2 h/day of GPU or
    # Offload use over the last 30 days (ledger since 2024-05-01)"; None for given hours.
    measured: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                [_finite(v) for v in value] if isinstance(value, tuple) else _finite(value)
            )
        out["verdict"] = self.verdict
        return out

    @property
    def rate_in_band(self) -> bool:
        low, high = self.rate_band
        return low <= self.offload_rate <= high

    @property
    def cheaper_text(self) -> str:
        """Which side costs less, naming the local option; never "cheaper" for a CPU."""
        if self.hardware == "cpu-only":
            return f"{self.local_label} adds no GPU cost (it may be too slow for GPU-sized work)"
        return {
            "local": f"{self.local_label} is cheaper",
            "offload": "Docker Offload is cheaper",
        }.get(self.cheaper, f"{self.local_label} and Docker Offload cost the same")

    @property
    def verdict(self) -> str:
        """:attr:`cheaper_text`, with the payback for a GPU bought, set against the months
        the purchase is spread over: Offload is cheaper exactly when the payback takes longer
        than those months, so the sentence says which (a payback alone reads as a reason to
        buy)."""
        if self.hardware != "buy-gpu":
            return self.cheaper_text
        if self.payback_months is None:
            return (
                f"{self.cheaper_text}; at these hours the GPU never pays for itself (Offload "
                "costs no more than running it)"
            )
        spread = self.amortize_months or 0
        months = _payback_text(self.payback_months, spread)
        over = f"{spread} month" if spread == 1 else f"{spread} months"
        if self.cheaper == "offload":
            return (
                f"{self.cheaper_text}; the GPU pays for itself only after {months} months of "
                f"Offload savings, longer than the {over} it is spread over"
            )
        if self.cheaper == "equal":
            return (
                f"{self.cheaper_text}; the GPU pays for itself in {months} months, the "
                f"{over} it is spread over"
            )
        return (
            f"{self.cheaper_text}; the GPU pays for itself in {months} months, within the "
            f"{over} it is spread over"
        )

    @property
    def breakeven_text(self) -> str:
        if self.hardware == "cpu-only":
            owned = self.owned_gpu_breakeven_hours_per_day
            return (
                f"none for {self.local_label} (no GPU cost to recover); an owned GPU "
                f"workstation would reach break-even at {_hours(owned)} at "
                f"${self.offload_rate:.2f}/h"
            )
        return f"{_hours(self.breakeven_hours_per_day)} at ${self.offload_rate:.2f}/h"

    @property
    def band_text(self) -> str:
        low_rate, high_rate = self.rate_band
        dear, cheap = self.breakeven_band
        if self.hardware == "cpu-only":
            return (
                f"Offload ${self.offload_band[0]:,.0f}-{self.offload_band[1]:,.0f}/month "
                f"at these hours"
            )
        mark = "" if self.rate_in_band else f" (your ${self.offload_rate:.2f}/h is outside it)"
        return (
            f"{_hours(dear, unit=False)}-{_hours(cheap)} "
            f"(${high_rate:.2f}/h to ${low_rate:.2f}/h){mark}"
        )

    def __str__(self) -> str:
        team = f" for {self.team_size} people" if self.team_size > 1 else ""
        if len(set(self.member_hours)) > 1:
            usage = f"{', '.join(f'{h:g}' for h in self.member_hours)} h/day"
        elif self.measured is not None:
            usage = f"{self.hours_per_day:.2f} h/day ({self.measured})"
        else:
            usage = f"{self.hours_per_day:g} h/day"
        storage = (
            f" (incl. ${self.storage_monthly:,.2f} for {self.storage_gb:g} GB of storage)"
            if self.storage_gb
            else ""
        )
        return (
            f"{usage} over {self.days:g} days{team}: {self.local_label} ${self.local:,.2f}, "
            f"Docker Offload ${self.offload:,.2f}{storage} per month at "
            f"${self.offload_rate:.2f}/h; {self.verdict}; break-even: {self.breakeven_text}; "
            f"across the guide's rates: {self.band_text}"
        )

    def _repr_html_(self) -> str:
        return f"<div class='labadvisor-costs {NO_MATH}'>{html.escape(str(self))}</div>"


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: None stands for "never"."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _payback_text(payback: float, spread: int) -> str:
    """Months with one decimal, or more where one would print the very months it is set
    against (24.0 for 24.04, next to "longer than the 24 months")."""
    for digits in range(1, 5):
        text = f"{payback:.{digits}f}"
        if float(text) != spread:
            break
    return text


def _hours(value: float, *, unit: bool = True) -> str:
    """Hours with one decimal, or two where they matter: 5.0, 1.25, 10.56; "never"."""
    if math.isinf(value):
        return "never"
    text = f"{value:.2f}"
    text = text[:-1] if text.endswith("0") else text
    return f"{text} h/day" if unit else text


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
    storage_monthly: npt.ArrayLike = 0.0,
) -> CostArrays:
    """The cost model, element-wise over already checked numbers or NumPy arrays.

    Each team member is counted with their own local option and their own Offload hours,
    as the guide's "Team of 5" row does; ``storage_monthly`` is the team's Offload storage.
    Two monthly figures within a relative 1e-9 of each other count as equal. The break-even
    (hours per member per day) is never below 0: storage dearer than the local option means
    Offload costs more from its first hour. NumPy is imported on first use.
    """
    import numpy as np

    hours, rate, local_each, team, storage = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (hours_per_day, offload_rate, local_monthly, team_size, storage_monthly)
        )
    )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        local = local_each * team
        offload = rate * hours * days * team + storage
    if not (np.isfinite(local).all() and np.isfinite(offload).all()):
        raise ValueError(
            "monthly cost too large to compute (offload or local); use realistic rates, hours, "
            "days and team sizes"
        )
    difference = local - offload
    tolerance = _EQUAL_TOLERANCE * np.maximum(1.0, np.maximum(local, offload))
    cheaper = np.where(np.abs(difference) <= tolerance, 2, np.where(difference < 0, 0, 1))
    with np.errstate(over="ignore"):  # a huge rate gives an infinite rate: break-even 0
        monthly_rate = rate * days
    left = np.maximum(local_each - storage / team, 0.0)
    with np.errstate(over="ignore"):  # a rate near 0 overflows to inf: never
        breakeven = np.divide(
            left, monthly_rate, out=np.full(monthly_rate.shape, np.inf), where=monthly_rate > 0
        )
    return CostArrays(local, offload, cheaper.astype(np.int8), breakeven)


def cost_defaults() -> CostDefaults:
    """The guide's default local monthly cost, Offload rate and days per month."""
    return offload_guide().costs.defaults


def rate_band() -> tuple[float, float]:
    """The guide's Offload rate range in USD/hour (the L4's "~$0.50-2.00/hour")."""
    l4 = offload_guide().costs.price(OFFLOAD_RATE_ID)
    return l4.low, l4.high


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


def resolve_hardware(hardware: object) -> LocalOption:
    """The local option ``hardware`` names ("owned-gpu", "buy-gpu", "cpu-only")."""
    options = offload_guide().costs.local_options
    if isinstance(hardware, str):
        key = normalize_name(hardware)
        for name in HARDWARE:
            if key == name:
                return options[name]
    valid = ", ".join(f"{name} ({options[name].label})" for name in HARDWARE)
    raise ValueError(f"unknown hardware {hardware!r}; valid values: {valid}")


def member_hours(hours_per_day: object, team_size: object) -> tuple[tuple[float, ...], int]:
    """Each member's daily Offload hours and the team size: one number for everyone, or a
    list with one number per member (then ``team_size`` is 1 or the list's length)."""
    team = check_team_size(team_size)
    if isinstance(hours_per_day, (list, tuple)):
        if not hours_per_day:
            raise ValueError("hours_per_day must list at least one member's hours, got []")
        hours = tuple(check_hours_per_day(h) for h in hours_per_day)
        if team not in (1, len(hours)):
            raise ValueError(
                f"team_size is {team} but hours_per_day lists {len(hours)} members; give one "
                "number for everyone or one per member"
            )
        return hours, len(hours)
    if isinstance(hours_per_day, Sequence) and not isinstance(hours_per_day, str):
        return member_hours(list(hours_per_day), team)
    return (check_hours_per_day(hours_per_day),) * team, team


@dataclass(frozen=True)
class LocalCost:
    """One member's monthly cost of a local option, and what it is made of."""

    option: LocalOption
    operating: float
    purchase: float
    price: float | None
    months: int | None

    @property
    def monthly(self) -> float:
        return self.operating + self.purchase


def local_cost(
    hardware: object = "owned-gpu",
    *,
    local_monthly: float | None = None,
    hardware_price: float | None = None,
    amortize_months: int | None = None,
) -> LocalCost:
    """Checked per-member monthly cost of ``hardware``: the guide's where None."""
    option = resolve_hardware(hardware)
    facts = offload_guide().costs
    operating = check_finite_number(
        facts.defaults.local_monthly if local_monthly is None else local_monthly,
        "local_monthly",
        minimum=0,
    )
    price: float | None = None
    months: int | None = None
    purchase = 0.0
    if option.purchase:
        price = check_finite_number(
            facts.hardware_total.approx if hardware_price is None else hardware_price,
            "hardware_price",
            minimum=0,
        )
        raw_months = facts.purchase.amortize_months if amortize_months is None else amortize_months
        if isinstance(raw_months, bool) or not isinstance(raw_months, int) or raw_months < 1:
            raise ValueError(
                f"amortize_months must be a whole number of months, at least 1; got "
                f"{amortize_months!r}"
            )
        months = raw_months
        purchase = price / months
    elif hardware_price is not None or amortize_months is not None:
        raise ValueError(
            f"hardware_price and amortize_months apply to hardware='buy-gpu' only, not "
            f"{option.name!r}"
        )
    return LocalCost(option, operating if option.operating else 0.0, purchase, price, months)


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


MEASURED = "measured"


@dataclass(frozen=True)
class MeasuredHours:
    """The hours a day the usage ledger measured, and the sentence that says so."""

    hours_per_day: float  # at most 24: a member's day
    text: str


def measured_hours(usage_days: int = 30) -> MeasuredHours:
    """``hours_per_day="measured"``: GPU busy hours (local GPUs at or above 10 %
    utilization) plus Docker Offload hours, per recorded day over the last ``usage_days``
    days of the usage ledger (:func:`labadvisor.usage.measured_usage`, at
    ``$XDG_DATA_HOME/labadvisor/usage.sqlite3``). Reading never creates the ledger; with no
    ledger or no samples it is a ValueError saying how long the ledger has been recording.

    Busy hours are summed over GPUs, so several busy GPUs can measure more than 24 hours a
    day; the comparison counts one member's day, so the figure is capped at 24 (and says so).
    """
    from labadvisor.usage import measured_usage

    if isinstance(usage_days, bool) or not isinstance(usage_days, int) or usage_days < 1:
        raise ValueError(
            f"usage_days must be a whole number of days, 1 or more, got {usage_days!r}"
        )
    found = measured_usage(usage_days)
    hours = found.measured_hours_per_day
    text = found.measured_text
    if hours > 24:
        text += f"; capped at 24 h/day (GPUs summed: {hours:.1f} h/day)"
        hours = 24.0
    return MeasuredHours(hours, text)


def resolve_hours(
    hours_per_day: object, usage_days: int = 30
) -> tuple[object, MeasuredHours | None]:
    """``hours_per_day`` as given, or the measured hours for ``"measured"`` (any case)."""
    if isinstance(hours_per_day, str):
        if normalize_name(hours_per_day) != MEASURED:
            raise ValueError(
                "hours_per_day must be a number of hours a day (between 0 and 24), a list "
                f"with one per member, or {MEASURED!r} (from the usage ledger); got "
                f"{hours_per_day!r}"
            )
        found = measured_hours(usage_days)
        return found.hours_per_day, found
    return hours_per_day, None


def monthly_costs(
    hours_per_day: float | Sequence[float] | str,
    *,
    days: float | None = None,
    local_monthly: float | None = None,
    offload_rate: float | None = None,
    team_size: int = 1,
    hardware: str = "owned-gpu",
    hardware_price: float | None = None,
    amortize_months: int | None = None,
    storage_gb: float = 0.0,
    usage_days: int = 30,
) -> CostComparison:
    """Compare a month of the user's local option with a month of Offload.

    ``hardware`` is what the user has: "owned-gpu" (the guide's ~$75/month operating cost,
    ``local_monthly``), "buy-gpu" (that plus ``hardware_price``, default the guide's
    ~$2,000, spread over ``amortize_months``, default 24; the payback is reported) or
    "cpu-only" (no GPU costs). ``hours_per_day`` is one number for every member or a list
    with one per member. ``storage_gb`` is priced at the guide's $0.10/GB/month. Each member
    is counted with their own local option and Offload hours, as the guide's "Team of 5"
    row does; the break-even is also given across the guide's $0.50-2.00/h band.

    ``hours_per_day="measured"`` takes the hours from the usage ledger (see
    :func:`measured_hours`): GPU busy hours plus Docker Offload hours per day over the last
    ``usage_days`` days, for every member; ``measured`` then quotes them.
    """
    given, measured = resolve_hours(hours_per_day, usage_days)
    hours, team = member_hours(given, team_size)
    local = local_cost(
        hardware,
        local_monthly=local_monthly,
        hardware_price=hardware_price,
        amortize_months=amortize_months,
    )
    _, offload_rate, days = resolve_rates(local.operating, offload_rate, days)
    storage_gb = check_finite_number(storage_gb, "storage_gb", minimum=0)
    facts = offload_guide().costs
    storage_monthly = storage_gb * facts.price(STORAGE_ID).low
    mean_hours = sum(hours) / team
    band = rate_band()
    common = {"local_monthly": local.monthly, "team_size": team, "days": days}
    costs = monthly_cost_arrays(
        mean_hours,
        offload_rate=[offload_rate, band[1], band[0]],
        storage_monthly=storage_monthly,
        **common,
    )
    owned = local_cost("owned-gpu", local_monthly=local_monthly)
    owned_even = monthly_cost_arrays(
        0.0, offload_rate=offload_rate, local_monthly=owned.monthly, team_size=team, days=days
    )
    offload = float(costs.offload[0])
    payback = None
    if local.price is not None:
        saving = offload - local.operating * team
        payback = local.price * team / saving if saving > 0 else None
    return CostComparison(
        hours_per_day=mean_hours,
        days=days,
        team_size=team,
        local_monthly=local.monthly,
        offload_rate=offload_rate,
        local=float(costs.local[0]),
        offload=offload,
        cheaper=CHEAPER[int(costs.cheaper[0])],
        breakeven_hours_per_day=float(costs.breakeven_hours_per_day[0]),
        hardware=local.option.name,
        local_label=local.option.label,
        member_hours=hours,
        operating_monthly=local.operating,
        purchase_monthly=local.purchase,
        hardware_price=local.price,
        amortize_months=local.months,
        payback_months=payback,
        storage_gb=storage_gb,
        storage_monthly=storage_monthly,
        rate_band=band,
        offload_band=(float(costs.offload[2]), float(costs.offload[1])),
        breakeven_band=(
            float(costs.breakeven_hours_per_day[1]),
            float(costs.breakeven_hours_per_day[2]),
        ),
        owned_gpu_breakeven_hours_per_day=float(owned_even.breakeven_hours_per_day),
        measured=measured.text if measured is not None else None,
    )


__all__ = [
    "CHEAPER",
    "MEASURED",
    "NO_MATH",
    "CostArrays",
    "CostComparison",
    "LocalCost",
    "MeasuredHours",
    "breakeven_hours_per_day",
    "check_team_size",
    "cost_defaults",
    "local_cost",
    "measured_hours",
    "member_hours",
    "monthly_cost_arrays",
    "monthly_costs",
    "rate_band",
    "resolve_days",
    "resolve_hardware",
    "resolve_hours",
    "resolve_rates",
]
