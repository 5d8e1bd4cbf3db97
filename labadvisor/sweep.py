"""Cost and runtime advice over grids of scenarios, vectorized with NumPy.

The rules are not repeated here: costs come from :func:`labadvisor.costs.monthly_cost_arrays`,
the memory requirement from :func:`labadvisor.memory.estimate_memory` and the runtime choice
from :func:`labadvisor.runtime.decide_runtime`, the functions advise_runtime uses. The
choice never depends on hours, rates or team size, so it is decided once per distinct
(model, workload class, GPU) and broadcast over the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from labadvisor.costs import CHEAPER, cost_defaults, monthly_cost_arrays, resolve_days
from labadvisor.guides import offload_guide
from labadvisor.memory import estimate_memory, resolve_task
from labadvisor.offload_facts import RUNTIME_CHOICES
from labadvisor.runtime_decision import decide_runtime, resolve_gpu, resolve_workload


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
    params_b: Any = None,
    dtype: str = "fp16",
    preset: str | None = None,
    context_tokens: int | None = None,
    batch_size: int = 1,
    task: str = "inference",
    workload: str | Iterable[str] | None = None,
    gpu: Any = False,
    sensitive: bool = False,
    offline: bool = False,
    interactive: bool = False,
) -> pd.DataFrame:
    """Every combination of the given values, one row per scenario.

    Each argument is a scalar or a sequence; sequences span the grid (cartesian product).
    Columns: the inputs, ``local`` and ``offload`` (USD/month), ``cheaper``,
    ``breakeven_hours_per_day`` and, when a model is given, the runtime ``choice`` and the
    memory requirement ``needed_gb``. The model is ``model_size_gb`` or ``params_b`` (a
    number or a sequence) or ``preset``, with ``dtype``, ``context_tokens``, ``batch_size``
    and ``task`` as in advise_runtime; ``workload`` is a name or a sequence of names (None:
    the assumed default). ``gpu`` is as in advise_runtime (None/False, True, free GB or a
    sequence of free GB); ``sensitive``, ``offline`` and ``interactive`` as there.
    """
    defaults = cost_defaults()
    days = resolve_days(days)
    for name, flag in (
        ("sensitive", sensitive),
        ("offline", offline),
        ("interactive", interactive),
    ):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    job = resolve_task(task)
    given = [
        name
        for name, value in (
            ("model_size_gb", model_size_gb),
            ("params_b", params_b),
            ("preset", preset),
        )
        if value is not None
    ]
    if len(given) > 1 and given != ["params_b", "preset"]:
        raise ValueError(
            f"give the model as one of model_size_gb, params_b or preset, not {' and '.join(given)}"
        )
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
    workloads = [workload] if workload is None or isinstance(workload, str) else list(workload)
    resolved = list(
        {w.name: w for w in (resolve_workload(name, task=job) for name in workloads)}.values()
    )
    gpu_values = list(gpu) if isinstance(gpu, (list, tuple, np.ndarray)) else [gpu]
    gpus = [resolve_gpu(g) for g in gpu_values]
    sizes = None
    model_axis = "params_b" if params_b is not None else "model_size_gb"
    if given:
        if model_size_gb is not None:
            sizes = _numeric(_axis(model_size_gb, "model_size_gb"), "model_size_gb", 0)
        elif params_b is not None:
            sizes = _numeric(_axis(params_b, "params_b"), "params_b", 0)
        else:
            sizes = np.array([0.0])  # one model: the preset
        # The advice axes are meshed as indices; their values are looked up afterwards.
        axes[model_axis] = np.arange(len(sizes))
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
            columns[model_axis],
            columns["workload"],
            columns["gpu"],
        )

        def estimate(value: float) -> tuple[float, float]:
            """(weights, requirement) in GB for one value of the model axis."""
            memory = estimate_memory(
                value if model_axis == "params_b" else (params_b if preset else None),
                model_size_gb=value if model_size_gb is not None else None,
                dtype=dtype,
                preset=preset,
                context_tokens=context_tokens,
                batch_size=batch_size,
                task=job,
            )
            headroom = offload_guide().rules.gpu_fits.headroom_fraction
            return memory.weights_gb, memory.total_gb * (1 + headroom)

        flags = {"sensitive": sensitive, "offline": offline, "interactive": interactive}
        choices, needed = _choice_table(
            sizes, estimate, [w.complexity for w in resolved], gpus, flags
        )
        if preset is None:
            out[model_axis] = sizes[size_idx]
        else:
            out["preset"] = preset
        out["needed_gb"] = needed[size_idx]
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
    sizes: npt.NDArray[np.float64],
    estimate: Callable[[float], tuple[float, float]],
    complexities: list[str],
    gpus: list[Any],
    flags: dict[str, bool],
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Choice codes (index into RUNTIME_CHOICES) by [size, workload, gpu], each decided by
    decide_runtime once per distinct model and workload class, and the requirement by size."""
    guide = offload_guide()
    code = {name: i for i, name in enumerate(RUNTIME_CHOICES)}
    unique_sizes, size_of = np.unique(sizes, return_inverse=True)
    memory = [estimate(size) for size in unique_sizes.tolist()]
    classes = sorted(set(complexities))
    class_of = np.array([classes.index(name) for name in complexities], dtype=np.intp)
    by_class = [guide.complexity_class(name) for name in classes]
    decided = np.array(
        [
            [
                [
                    code[decide_runtime(guide, weights, needed, local, complexity, **flags).choice]
                    for local in gpus
                ]
                for complexity in by_class
            ]
            for weights, needed in memory
        ],
        dtype=np.int8,
    ).reshape(len(unique_sizes), len(classes), len(gpus))
    needed_by_size = np.array([needed for _, needed in memory])[size_of.ravel()]
    return decided[np.ix_(size_of.ravel(), class_of, np.arange(len(gpus)))], needed_by_size
