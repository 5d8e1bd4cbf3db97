"""Cost and runtime advice over grids of scenarios, vectorized with NumPy.

The scalar rules live in :mod:`labadvisor.runtime`; this module applies the same data
tables to whole arrays at once (tests check both agree on random scenarios).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from labadvisor.costs import cost_defaults, resolve_days
from labadvisor.guides import offload_data
from labadvisor.runtime import RUNTIME_CHOICES, _complexity, _resolve_gpu, resolve_workload

_CHEAPER = ("local", "offload", "equal")


def _axis(values: Any, name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence, got {values!r}")
    return array


def _numeric(array: np.ndarray, name: str, low: float, high: float = np.inf) -> np.ndarray:
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
    days: int | None = None,
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
    axes: dict[str, np.ndarray] = {
        "hours_per_day": _numeric(_axis(hours_per_day, "hours_per_day"), "hours_per_day", 0, 24),
        "offload_rate": _numeric(
            _axis(
                defaults["offload_rate"] if offload_rate is None else offload_rate, "offload_rate"
            ),
            "offload_rate",
            0,
        ),
        "team_size": _numeric(_axis(team_size, "team_size"), "team_size", 1),
        "local_monthly": _numeric(
            _axis(
                defaults["local_monthly"] if local_monthly is None else local_monthly,
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
    gpus = [_resolve_gpu(g) for g in gpu_values]
    if model_size_gb is not None:
        axes["model_size_gb"] = _numeric(_axis(model_size_gb, "model_size_gb"), "model_size_gb", 0)
        axes["workload"] = np.arange(len(resolved))
        axes["gpu"] = np.arange(len(gpus))

    grids = np.meshgrid(*axes.values(), indexing="ij", copy=False)
    columns = {name: grid.ravel() for name, grid in zip(axes, grids, strict=True)}
    hours, rate = columns["hours_per_day"], columns["offload_rate"]
    team, local_m = columns["team_size"], columns["local_monthly"]

    local = local_m * team
    offload = rate * hours * days * team
    diff = local - offload
    tolerance = 1e-9 * np.maximum(1.0, np.maximum(local, offload))
    cheaper = np.where(np.abs(diff) <= tolerance, 2, np.where(diff < 0, 0, 1))
    with np.errstate(divide="ignore"):
        breakeven = np.where(rate > 0, local_m / (rate * days), np.inf)

    out: dict[str, Any] = {
        "hours_per_day": hours,
        "offload_rate": rate,
        "team_size": team.astype(int),
        "local_monthly": local_m,
        "local": local,
        "offload": offload,
        "cheaper": pd.Categorical.from_codes(cheaper, categories=_CHEAPER),
        "breakeven_hours_per_day": breakeven,
    }
    if model_size_gb is not None:
        codes = _choices(
            columns["model_size_gb"], columns["workload"], columns["gpu"], resolved, gpus, sensitive
        )
        out["model_size_gb"] = columns["model_size_gb"]
        out["workload"] = pd.Categorical.from_codes(
            columns["workload"], categories=[w.name for w in resolved]
        )
        out["gpu_available"] = np.array([g.available for g in gpus])[columns["gpu"]]
        out["gpu_free_gb"] = np.array(
            [g.free_gb if g.free_gb is not None else np.nan for g in gpus]
        )[columns["gpu"]]
        out["choice"] = pd.Categorical.from_codes(codes, categories=RUNTIME_CHOICES)
    return pd.DataFrame(out)


def _choices(
    size: np.ndarray,
    workload_idx: np.ndarray,
    gpu_idx: np.ndarray,
    workloads: list[Any],
    gpus: list[Any],
    sensitive: bool,
) -> np.ndarray:
    """Runtime choice codes (index into RUNTIME_CHOICES) for every scenario."""
    data = offload_data()
    code = {name: i for i, name in enumerate(RUNTIME_CHOICES)}
    headroom = data["rules"]["gpu-fits"]["headroom_fraction"]
    available = np.array([g.available for g in gpus])[gpu_idx]
    free = np.array([np.nan if g.free_gb is None else g.free_gb for g in gpus])[gpu_idx]
    known = ~np.isnan(free)
    fits = known & (free >= size * (1 + headroom))

    choice = np.full(size.shape, -1, dtype=np.int8)
    for tier in data["size_tiers"]:
        mask = np.ones(size.shape, dtype=bool)
        if "from_gb" in tier:
            mask &= size >= tier["from_gb"]
        if "above_gb" in tier:
            mask &= size > tier["above_gb"]
        if "below_gb" in tier:
            mask &= size < tier["below_gb"]
        if "up_to_gb" in tier:
            mask &= size <= tier["up_to_gb"]
        mask &= choice < 0
        tier_choice = np.full(size.shape, code[tier["choice"]], dtype=np.int8)
        if tier["choice"] == "local-gpu":
            fallback = code[tier["choice_without_gpu"]]
            usable = available & (~known | fits)
            tier_choice = np.where(usable, tier_choice, fallback).astype(np.int8)
        elif tier["choice"] == "offload":
            tier_choice = np.where(fits, code["local-gpu"], tier_choice).astype(np.int8)
        choice = np.where(mask, tier_choice, choice)
    if (choice < 0).any():
        raise ValueError("some model sizes fall in no size tier; check the size_tiers overrides")

    push = np.array([_complexity(w.complexity)["push"] == "offload" for w in workloads])
    choice = np.where(push[workload_idx], code["offload"], choice)
    if sensitive:
        local_code = np.where(available, code["local-gpu"], code["local-cpu"])
        choice = np.where(choice == code["offload"], local_code, choice)
    return choice.astype(np.int8)
