"""Cost model and break-even (scalar and over arrays), and the break-even plot."""

from __future__ import annotations

import math

import numpy as np
import pytest

import labadvisor
from labadvisor import breakeven_hours_per_day, monthly_costs
from labadvisor.costs import CHEAPER, monthly_cost_arrays


def test_default_breakeven_is_five_hours() -> None:
    assert breakeven_hours_per_day() == pytest.approx(5.0)
    assert monthly_costs(5).cheaper == "equal"
    assert monthly_costs(4.9).cheaper == "offload"
    assert monthly_costs(5.1).cheaper == "local"


def test_costs_honour_arguments() -> None:
    c = monthly_costs(6, offload_rate=2.0, local_monthly=100, days=20, team_size=3)
    assert (c.local, c.offload) == (300, 720)
    assert c.breakeven_hours_per_day == pytest.approx(2.5)
    assert breakeven_hours_per_day(offload_rate=0) == math.inf
    assert monthly_costs(2, offload_rate=0).to_dict()["breakeven_hours_per_day"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours_per_day": 24.5}, "hours_per_day"),
        ({"hours_per_day": math.nan}, "hours_per_day"),
        ({"hours_per_day": 2, "offload_rate": -1}, "offload_rate"),
        ({"hours_per_day": 2, "days": 0}, "days"),
        ({"hours_per_day": 2, "team_size": 1.5}, "team_size"),
        ({"hours_per_day": "6"}, "hours_per_day"),
    ],
)
def test_bad_cost_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monthly_costs(**kwargs)


def test_breakeven_plot_marks_the_breakeven_and_scenarios() -> None:
    from matplotlib.figure import Figure

    fig = labadvisor.plots.breakeven(hours_per_day=6)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "break-even 5.0 h/day" in texts
    assert {"Light", "Regular", "Heavy"} <= set(texts)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "you: 6 h/day" in labels
    with pytest.raises(ValueError, match="hours_per_day"):
        labadvisor.plots.breakeven(hours_per_day=99)


def test_one_cost_formula_for_numbers_and_arrays() -> None:
    hours = np.array([0.0, 2.0, 5.0, 6.0])
    arrays = monthly_cost_arrays(
        hours, offload_rate=0.5, local_monthly=75.0, team_size=np.array([1, 1, 1, 5]), days=30
    )
    for i, h in enumerate(hours.tolist()):
        team = [1, 1, 1, 5][i]
        scalar = monthly_costs(h, team_size=team)
        assert arrays.local[i] == scalar.local and arrays.offload[i] == scalar.offload
        assert CHEAPER[arrays.cheaper[i]] == scalar.cheaper
        assert arrays.breakeven_hours_per_day[i] == scalar.breakeven_hours_per_day
    free = monthly_cost_arrays(1.0, offload_rate=0.0, local_monthly=75.0, team_size=1, days=30)
    assert math.isinf(float(free.breakeven_hours_per_day))
