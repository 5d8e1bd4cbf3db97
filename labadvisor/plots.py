"""Matplotlib figures of the cost model. Figures are built without pyplot's global state."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labadvisor.costs import check_team_size, monthly_cost_arrays, resolve_rates
from labadvisor.guides import offload_guide
from labadvisor.units import check_finite_number, check_hours_per_day


def breakeven(
    *,
    local_monthly: float | None = None,
    offload_rate: float | None = None,
    days: float | None = None,
    team_size: int = 1,
    hours_per_day: float | None = None,
    max_hours: float = 24.0,
    scenarios: bool = True,
    figsize: tuple[float, float] = (7.0, 4.2),
) -> Figure:
    """Monthly cost against daily Offload hours: local (flat) vs Offload (linear).

    The break-even point is marked, the guide's usage scenarios are annotated, and
    ``hours_per_day`` (if given) is highlighted as "you".
    """
    local_monthly, offload_rate, days = resolve_rates(local_monthly, offload_rate, days)
    team_size = check_team_size(team_size)
    max_hours = check_finite_number(
        max_hours, "max_hours", minimum=0, maximum=24, strict_minimum=True
    )
    scenario_list = [
        s for s in offload_guide().costs.usage_scenarios if s.hours_per_day <= max_hours
    ]
    hours = np.linspace(0.0, max_hours, 200)
    rates = {"offload_rate": offload_rate, "local_monthly": local_monthly, "days": days}
    curve = monthly_cost_arrays(hours, team_size=team_size, **rates)
    at_scenarios = monthly_cost_arrays(
        [s.hours_per_day for s in scenario_list], team_size=team_size, **rates
    )
    even = float(curve.breakeven_hours_per_day[0])

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(hours, curve.local, label=f"Local (${local_monthly:,.0f}/month each)", color="#2563eb")
    ax.plot(hours, curve.offload, label=f"Docker Offload (${offload_rate:.2f}/h)", color="#ea580c")
    if even <= max_hours:
        y = float(curve.local[0])
        ax.axvline(even, color="#6b7280", linestyle="--", linewidth=1)
        ax.plot([even], [y], "o", color="#111827")
        ax.annotate(
            f"break-even {even:.1f} h/day",
            (even, y),
            textcoords="offset points",
            xytext=(-8, 10),
            ha="right",
            fontsize=9,
        )
    if scenarios:
        for scenario, cost in zip(scenario_list, at_scenarios.offload.tolist(), strict=True):
            h = scenario.hours_per_day
            ax.plot([h], [cost], "s", color="#ea580c", markersize=5)
            ax.annotate(
                scenario.name.split()[0],
                (h, cost),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
                color="#9a3412",
            )
    if hours_per_day is not None:
        h = check_hours_per_day(hours_per_day)
        ax.axvline(h, color="#16a34a", linewidth=1.5, label=f"you: {h:g} h/day")
    team = f" (team of {team_size})" if team_size > 1 else ""
    ax.set_title(f"Monthly cost: local vs Docker Offload{team}")
    ax.set_xlabel("Offload hours per day")
    ax.set_ylabel("USD per month")
    ax.set_xlim(0, max_hours)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return fig
