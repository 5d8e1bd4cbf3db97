"""Cost model, break-even, the vectorized sweep (checked against the scalar adviser) and plots."""

from __future__ import annotations

import math

import numpy as np
import pytest

import labadvisor
from labadvisor import advise_runtime, breakeven_hours_per_day, monthly_costs, sweep


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


def test_sweep_costs_match_scalar_model() -> None:
    df = sweep([0, 2, 5, 6, 24], offload_rate=[0.5, 2.0], team_size=[1, 5])
    assert len(df) == 20
    for row in df.itertuples():
        scalar = monthly_costs(
            row.hours_per_day, offload_rate=row.offload_rate, team_size=row.team_size
        )
        assert row.local == pytest.approx(scalar.local)
        assert row.offload == pytest.approx(scalar.offload)
        assert row.cheaper == scalar.cheaper
        assert row.breakeven_hours_per_day == pytest.approx(scalar.breakeven_hours_per_day)


@pytest.mark.parametrize("sensitive", [False, True])
def test_sweep_choices_agree_with_advise_runtime(sensitive: bool) -> None:
    rng = np.random.default_rng(7)
    sizes = np.concatenate([[0, 0.99, 1, 7, 7.01, 23.5], rng.uniform(0, 40, 40)])
    workloads = ["completion", "code-review", "documentation", "production"]
    gpus = [None, True, 6.0, 24.0, 80.0]
    df = sweep(2, model_size_gb=sizes, workload=workloads, gpu=gpus, sensitive=sensitive)
    assert len(df) == len(sizes) * len(workloads) * len(gpus)
    # Rows come in grid order: size, then workload, then gpu.
    expected = [
        advise_runtime(float(size), workload=w, gpu=gpu, sensitive=sensitive).choice
        for size in sizes
        for w in workloads
        for gpu in gpus
    ]
    assert df["choice"].tolist() == expected
    assert df["gpu_available"].tolist()[:5] == [False, True, True, True, True]


def test_sweep_handles_a_million_scenarios() -> None:
    df = sweep(
        np.linspace(0, 24, 100), offload_rate=np.linspace(0.5, 2, 100), team_size=range(1, 101)
    )
    assert len(df) == 1_000_000
    assert set(df["cheaper"].cat.categories) == {"local", "offload", "equal"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours_per_day": [1, 30]}, "hours_per_day"),
        ({"offload_rate": [-1]}, "offload_rate"),
        ({"team_size": [1.5]}, "team_size"),
        ({"model_size_gb": [np.nan]}, "model_size_gb"),
        ({"model_size_gb": 1, "workload": ["poetry"]}, "unknown workload"),
        ({"hours_per_day": []}, "non-empty"),
        ({"days": -3}, "days must be greater than 0 and at most 31, got -3"),
        ({"days": 0}, "days must be greater than 0 and at most 31, got 0"),
        ({"days": float("nan")}, "days must be a finite number"),
    ],
)
def test_sweep_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep(**kwargs)


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
