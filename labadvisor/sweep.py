"""Cost and runtime advice over grids of scenarios, vectorized with NumPy.

The rules are not repeated here: costs come from :func:`labadvisor.costs.monthly_cost_arrays`
and the runtime choice from :func:`labadvisor.runtime.decide_runtime`, the function
advise_runtime explains. The choice never depends on hours, rates or team size, so it is
decided once per distinct (model size, workload class, GPU) and broadcast over the grid.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from labadvisor.costs import CHEAPER, cost_defaults, monthly_cost_arrays, resolve_days
from labadvisor.guides import offload_guide
from labadvisor.runtime import RUNTIME_CHOICES, decide_runtime, resolve_gpu, resolve_workload


def _axis(values: Any, name: str) -> npt.NDArray[Any]:
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got {values!r}")
    return array


def _numeric(
    array: npt.NDArray[Any], name: str, low: float, high: float = np.inf
) -> npt.NDArray[np.float64]:
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numbers, got {array.tolist()[:5]!r}")
    values = array.astype(float)
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    if bad.any():
        first = values[bad][0]
        bounds = f"between {low:g} and {high:g}" if np.isfinite(high) else f"at least {low:g}"
        raise ValueError(f"{name} must be finite and {bounds}; got {first!r}")
    return values


def sweep(
    hours_per_day: Any = tuple(range(25)),
    *,
    offload_rate: Any = None,
    team_size: Any = 1,
    local_monthly: Any = None,
    days: float | None = None,
    model_size_gb: Any = None,
    workload: str | Iterable[str] = "completion",
    gpu: Any = False,
    sensitive: bool = False,
) -> pd.DataFrame:
    """Every combination of the given values, one row per scenario.

    Each argument is a scalar or a sequence; sequences span the grid (cartesian product).
    Columns: the inputs, ``local`` and ``offload`` (USD/month), ``cheaper``,
    ``breakeven_hours_per_day`` and, when ``model_size_gb`` is given, the runtime ``choice``.
    ``gpu`` is as in advise_runtime (None/False, True, free GB or a sequence of free GB).
    """
    defaults = cost_defaults()
    days = resolve_days(days)
    if not isinstance(sensitive, bool):
        raise ValueError(f"sensitive must be True or False, got {sensitive!r}")
    axes: dict[str, npt.NDArray[Any]] = {
        "hours_per_day": _numeric(_axis(hours_per_day, "hours_per_day"), "hours_per_day", 0, 24),
        "offload_rate": _numeric(
            _axis(defaults.offload_rate if offload_rate is None else offload_rate, "offload_rate"),
            "offload_rate",
            0,
        ),
        "team_size": _numeric(_axis(team_size, "team_size"), "team_size", 1),
        "local_monthly": _numeric(
            _axis(
                defaults.local_monthly if local_monthly is None else local_monthly,
                "local_monthly",
            ),
            "local_monthly",
            0,
        ),
    }
    if not np.all(axes["team_size"] == np.round(axes["team_size"])):
        raise ValueError(f"team_size must be whole numbers, got {axes['team_size'].tolist()!r}")
    workloads = [workload] if isinstance(workload, str) else list(workload)
    resolved = list({w.name: w for w in map(resolve_workload, workloads)}.values())
    gpu_values = list(gpu) if isinstance(gpu, (list, tuple, np.ndarray)) else [gpu]
    gpus = [resolve_gpu(g) for g in gpu_values]
    sizes = None
    if model_size_gb is not None:
        sizes = _numeric(_axis(model_size_gb, "model_size_gb"), "model_size_gb", 0)
        # The advice axes are meshed as indices; their values are looked up afterwards.
        axes["model_size_gb"] = np.arange(len(sizes))
        axes["workload"] = np.arange(len(resolved))
        axes["gpu"] = np.arange(len(gpus))

    grids = np.meshgrid(*axes.values(), indexing="ij", copy=False)
    columns = {name: grid.ravel() for name, grid in zip(axes, grids, strict=True)}
    hours, rate = columns["hours_per_day"], columns["offload_rate"]
    team, local_each = columns["team_size"], columns["local_monthly"]
    costs = monthly_cost_arrays(
        hours, offload_rate=rate, local_monthly=local_each, team_size=team, days=days
    )

    out: dict[str, Any] = {
        "hours_per_day": hours,
        "offload_rate": rate,
        "team_size": team.astype(int),
        "local_monthly": local_each,
        "local": costs.local,
        "offload": costs.offload,
        "cheaper": pd.Categorical.from_codes(costs.cheaper, categories=list(CHEAPER)),
        "breakeven_hours_per_day": costs.breakeven_hours_per_day,
    }
    if sizes is not None:
        size_idx, workload_idx, gpu_idx = (
            columns["model_size_gb"],
            columns["workload"],
            columns["gpu"],
        )
        choices = _choice_table(sizes, [w.complexity for w in resolved], gpus, sensitive)
        out["model_size_gb"] = sizes[size_idx]
        out["workload"] = pd.Categorical.from_codes(
            workload_idx, categories=[w.name for w in resolved]
        )
        out["gpu_available"] = np.array([g.available for g in gpus])[gpu_idx]
        out["gpu_free_gb"] = np.array(
            [g.free_gb if g.free_gb is not None else np.nan for g in gpus]
        )[gpu_idx]
        out["choice"] = pd.Categorical.from_codes(
            choices[size_idx, workload_idx, gpu_idx], categories=list(RUNTIME_CHOICES)
        )
    return pd.DataFrame(out)


def _choice_table(
    sizes: npt.NDArray[np.float64], complexities: list[str], gpus: list[Any], sensitive: bool
) -> npt.NDArray[np.int8]:
    """Choice codes (index into RUNTIME_CHOICES) by [size, workload, gpu], each decided by
    decide_runtime once per distinct size and workload class."""
    guide = offload_guide()
    code = {name: i for i, name in enumerate(RUNTIME_CHOICES)}
    unique_sizes, size_of = np.unique(sizes, return_inverse=True)
    classes = sorted(set(complexities))
    class_of = np.array([classes.index(name) for name in complexities], dtype=np.intp)
    by_class = [guide.complexity_class(name) for name in classes]
    decided = np.array(
        [
            [
                [
                    code[decide_runtime(guide, size, local, complexity, sensitive).choice]
                    for local in gpus
                ]
                for complexity in by_class
            ]
            for size in unique_sizes.tolist()
        ],
        dtype=np.int8,
    ).reshape(len(unique_sizes), len(classes), len(gpus))
    return decided[np.ix_(size_of.ravel(), class_of, np.arange(len(gpus)))]
