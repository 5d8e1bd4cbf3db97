"""The vectorized sweep: its costs and runtime choices agree with the scalar advisers."""

from __future__ import annotations

import numpy as np
import pytest

from labadvisor import advise_runtime, monthly_costs, sweep
from labadvisor.runtime import workload_names


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


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sweep_choice_is_advise_runtimes_choice_on_random_scenarios(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Sizes and free memory near every threshold (1 GB, 7 GB, 20 % headroom) and anywhere.
    sizes = np.concatenate(
        [rng.choice([0.999, 1.0, 1.001, 6.99, 7.0, 7.01], 3), rng.uniform(0, 60, 9)]
    )
    gpus = [None, True, *rng.uniform(0, 90, 4).round(2).tolist(), 8.4, 8.41]
    workloads = list(rng.choice(workload_names(), 4, replace=False))
    hours = rng.uniform(0, 24, 2)
    for sensitive in (False, True):
        df = sweep(
            hours,
            team_size=[1, 3],
            model_size_gb=sizes,
            workload=workloads,
            gpu=gpus,
            sensitive=sensitive,
        )
        picked = df.sample(n=200, random_state=seed)
        for row in picked.itertuples():
            gpu = gpus[_gpu_index(row, gpus)]
            expected = advise_runtime(
                row.model_size_gb,
                workload=row.workload,
                gpu=gpu,
                hours_per_day=row.hours_per_day,
                team_size=row.team_size,
                sensitive=sensitive,
            ).choice
            assert row.choice == expected, (row, gpu)


def _gpu_index(row: object, gpus: list[object]) -> int:
    available, free = row.gpu_available, row.gpu_free_gb  # type: ignore[attr-defined]
    for i, g in enumerate(gpus):
        if g is None and not available:
            return i
        if g is True and available and np.isnan(free):
            return i
        if isinstance(g, float) and free == g:
            return i
    raise AssertionError(f"no gpu value for {row!r}")
