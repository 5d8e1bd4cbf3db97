"""Runtime advice: local CPU, local GPU or Docker Offload, with the rules that decided it."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from labadvisor.costs import CostComparison, check_team_size, monthly_costs
from labadvisor.explain import Advice, Reason, fill, fire, source_of
from labadvisor.guides import offload_data
from labadvisor.units import (
    bytes_per_parameter,
    check_finite_number,
    check_hours_per_day,
    normalize_name,
    parse_size_gb,
)

RUNTIME_CHOICES = ("local-cpu", "local-gpu", "offload")


@dataclass(frozen=True)
class LocalGpu:
    """What the adviser knows about the kernel's local GPU."""

    available: bool
    free_gb: float | None
    name: str | None
    why: str
    # Which device when several are visible: "GPU 1", "GPU 0 MIG 2".
    label: str | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    complexity: str
    entry: Mapping[str, Any]


@dataclass
class RuntimeAdvice(Advice):
    size_gb: float = 0.0
    workload: str = ""
    complexity: str = ""
    gpu: LocalGpu | None = None
    fit_margin_gb: float | None = None
    cost: CostComparison | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    title = "Runtime advice"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            size_gb=self.size_gb,
            workload=self.workload,
            complexity=self.complexity,
            gpu=asdict(self.gpu) if self.gpu else None,
            fit_margin_gb=self.fit_margin_gb,
            cost=self.cost.to_dict() if self.cost else None,
            inputs=dict(self.inputs),
        )
        return out

    def _details_text(self) -> list[str]:
        gpu = self.gpu.why if self.gpu else "unknown"
        lines = [
            f"Model: {self.size_gb:.3g} GB · workload: {self.workload} ({self.complexity})",
            f"Local GPU: {gpu}",
        ]
        if self.fit_margin_gb is not None:
            lines.append(f"GPU fit margin: {self.fit_margin_gb:+.1f} GB")
        if self.cost:
            lines.append(f"Costs: {self.cost}")
        return lines

    def _details_html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self._details_text())
        return f"<details><summary>Inputs</summary><ul>{items}</ul></details>"


def advise_runtime(
    model_size_gb: float | str | None = None,
    *,
    params_b: float | None = None,
    dtype: str = "fp16",
    workload: str = "completion",
    gpu: Any = "auto",
    hours_per_day: float | None = None,
    team_size: int = 1,
    sensitive: bool = False,
) -> RuntimeAdvice:
    """Where to run a model: "local-cpu", "local-gpu" or "offload", and why.

    Give the model's size in GB (``13``, ``"13GB"``) or its parameter count in billions
    with a dtype. ``gpu`` is "auto" (detect this kernel's GPU), None/False (none), True
    (a local GPU of unknown free memory) or the free GPU memory in GB.
    """
    data = offload_data()
    guide = data["guide"]
    size_gb = _model_size_gb(model_size_gb, params_b, dtype)
    work = resolve_workload(workload)
    team_size = check_team_size(team_size)
    hours = None if hours_per_day is None else check_hours_per_day(hours_per_day)
    if not isinstance(sensitive, bool):
        raise ValueError(f"sensitive must be True or False, got {sensitive!r}")
    local = _resolve_gpu(gpu)

    reasons: list[Reason] = []
    warnings: list[str] = []
    tier = size_tier(size_gb)
    offload_gpu = data["offload_gpu"]
    rules = data["rules"]
    fit_rule = rules["gpu-fits"]
    needed_gb = size_gb * (1 + fit_rule["headroom_fraction"])
    margin = None if local.free_gb is None else local.free_gb - needed_gb
    gpu_values = {
        "gpu_name": _gpu_text(local),
        "free_gb": local.free_gb,
        "needed_gb": needed_gb,
        "headroom_pct": 100 * fit_rule["headroom_fraction"],
        "margin_gb": margin,
        "short_gb": None if margin is None else -margin,
        "size_gb": size_gb,
        "why": local.why,
    }

    choice = tier["choice"]
    reasons.append(
        fire(
            tier,
            guide,
            effect=choice,
            size_gb=size_gb,
            offload_gpu=f"{offload_gpu['name']} with {offload_gpu['memory_gb']:g} GB",
        )
    )
    # Every answer says what was found locally; the GPU changes the choice only for medium
    # models (the guide's "Have local GPU?") and for large ones that fit it (labadvisor's rule).
    if not local.available:
        gpu_rule, gpu_usable = rules["gpu-none"], False
    elif margin is None:
        gpu_rule, gpu_usable = rules["gpu-present"], True
    elif margin >= 0:
        gpu_rule, gpu_usable = fit_rule, True
    else:
        gpu_rule, gpu_usable = rules["gpu-too-small"], False
    gpu_effect = None
    beyond_guide = False
    if choice == "local-gpu" and not gpu_usable:
        choice = gpu_effect = tier["choice_without_gpu"]
    elif choice == "local-gpu":
        gpu_effect = choice
    elif choice == "offload" and margin is not None and margin >= 0:
        choice = gpu_effect = "local-gpu"
        beyond_guide = True
    reasons.append(fire(gpu_rule, guide, effect=gpu_effect, **gpu_values))

    complexity = _complexity(work.complexity)
    push = complexity["push"]
    if push != "none" and push != choice:
        choice = push
    reasons.append(
        fire(complexity, guide, effect=None if push == "none" else push, workload_label=work.label)
    )

    if sensitive:
        local_choice = choice if choice != "offload" else _best_local(local)
        rule = rules["sensitive"]
        reasons.append(
            fire(
                rule,
                guide,
                effect=local_choice,
                choice_label=data["choices"][local_choice]["label"],
            )
        )
        if choice == "offload" and _local_too_small(local_choice, local, margin, size_gb):
            warnings.append(fill(rule, "warning", size_gb=size_gb, why=local.why))
        choice = local_choice

    if beyond_guide and choice == "local-gpu":
        reasons.append(fire(rules["gpu-beyond-guide"], guide, effect=choice, **gpu_values))

    if size_gb > offload_gpu["memory_gb"]:
        warnings.append(fill(offload_gpu, "warning", size_gb=size_gb))

    if team_size > 1:
        audience = _audience(team_size)
        reasons.append(
            Reason(
                rule=audience["id"],
                text=fill(
                    rules["team"],
                    "text",
                    team_size=team_size,
                    audience=audience["audience"],
                    items="; ".join(audience["items"]),
                ),
                source=source_of(audience, guide),
            )
        )

    cost = None
    if hours is not None:
        cost = monthly_costs(hours, team_size=team_size)
        team = f" for {team_size} people" if team_size > 1 else ""
        reasons.append(
            fire(
                rules["cost"],
                guide,
                hours=hours,
                team=team,
                cheaper_text=cost.cheaper_text,
                local=cost.local,
                offload=cost.offload,
                breakeven=cost.breakeven_hours_per_day,
            )
        )

    return RuntimeAdvice(
        choice=choice,
        choice_label=data["choices"][choice]["label"],
        reasons=reasons,
        warnings=warnings,
        size_gb=size_gb,
        workload=work.name,
        complexity=work.complexity,
        gpu=local,
        fit_margin_gb=margin,
        cost=cost,
        inputs={
            "model_size_gb": model_size_gb,
            "params_b": params_b,
            "dtype": dtype,
            "workload": workload,
            "gpu": gpu if isinstance(gpu, (bool, int, float, str)) or gpu is None else repr(gpu),
            "hours_per_day": hours_per_day,
            "team_size": team_size,
            "sensitive": sensitive,
        },
    )


def size_tier(size_gb: float) -> Mapping[str, Any]:
    """The guide's size tier a model of ``size_gb`` falls in."""
    for tier in offload_data()["size_tiers"]:
        if (
            ("from_gb" not in tier or size_gb >= tier["from_gb"])
            and ("above_gb" not in tier or size_gb > tier["above_gb"])
            and ("below_gb" not in tier or size_gb < tier["below_gb"])
            and ("up_to_gb" not in tier or size_gb <= tier["up_to_gb"])
        ):
            return tier
    raise ValueError(f"no size tier covers {size_gb} GB; check the size_tiers overrides")


def workload_names() -> list[str]:
    """Every workload name advise_runtime accepts, canonical names first."""
    data = offload_data()
    names = [w["name"] for w in data["workloads"]]
    names += [c["name"] for c in data["complexity"] if c["name"] != "depends"]
    names += [a for w in data["workloads"] for a in w.get("aliases", [])]
    return names


def resolve_workload(workload: str) -> Workload:
    """Map a forgiving workload name ('Code Generation', 'code_review', 'complex') to its entry."""
    data = offload_data()
    if isinstance(workload, str):
        key = normalize_name(workload)
        for entry in data["workloads"]:
            if key == entry["name"] or key in entry.get("aliases", []):
                return Workload(entry["name"], entry["label"], entry["complexity"], entry)
        for entry in data["complexity"]:
            if key == entry["name"] and key != "depends":
                return Workload(entry["name"], entry["label"], entry["name"], entry)
    valid = ", ".join(workload_names())
    raise ValueError(f"unknown workload {workload!r}; valid workloads: {valid}")


def _complexity(name: str) -> Mapping[str, Any]:
    for entry in offload_data()["complexity"]:
        if entry["name"] == name:
            return entry
    raise ValueError(f"workload complexity {name!r} has no entry in the complexity table")


def _audience(team_size: int) -> Mapping[str, Any]:
    for entry in offload_data()["audiences"]:
        if entry.get("min_team", 1) <= team_size <= entry.get("max_team", team_size):
            return entry
    raise ValueError(f"no audience entry covers a team of {team_size}")


def _model_size_gb(model_size_gb: object, params_b: object, dtype: str) -> float:
    if model_size_gb is not None:
        return parse_size_gb(model_size_gb, "model_size_gb")
    if params_b is not None:
        params = check_finite_number(params_b, "params_b (billions of parameters)", minimum=0)
        return params * bytes_per_parameter(dtype)
    raise ValueError(
        "give the model's size: model_size_gb (e.g. 13 or '13GB') or params_b with dtype"
    )


def _resolve_gpu(gpu: Any) -> LocalGpu:
    if gpu is None or gpu is False:
        return LocalGpu(False, None, None, f"no local GPU (gpu={gpu!r})")
    if gpu is True:
        return LocalGpu(True, None, None, "a local GPU (gpu=True), free memory unknown")
    if isinstance(gpu, str) and gpu.strip().lower() == "auto":
        return _detected_gpu()
    valid = "'auto', None/False, True or the free GPU memory in GB (a finite number, at least 0)"
    if isinstance(gpu, (int, float, str)):
        try:
            free = parse_size_gb(gpu, "gpu free memory")
        except ValueError:
            raise ValueError(f"gpu must be {valid}; got {gpu!r}") from None
        return LocalGpu(True, free, None, f"a local GPU with {free:.1f} GB free (given)")
    raise ValueError(f"gpu must be {valid}; got {gpu!r}")


def _detected_gpu() -> LocalGpu:
    from labadvisor import gpu as gpu_detection

    report = gpu_detection.detect()
    device = report.best_device()
    if device is None:
        return LocalGpu(False, None, None, f"none detected: {report.message}")
    free = None if device.memory_free is None else device.memory_free / 1e9
    why = f"detected {device.name} ({device.label})"
    return LocalGpu(True, free, device.name, why, device.label)


def _gpu_text(local: LocalGpu) -> str:
    if not local.name:
        return ""
    return f" {local.name} ({local.label})" if local.label else f" {local.name}"


def _best_local(local: LocalGpu) -> str:
    return "local-gpu" if local.available else "local-cpu"


def _local_too_small(choice: str, local: LocalGpu, margin: float | None, size_gb: float) -> bool:
    if choice == "local-cpu":
        return size_tier(size_gb)["choice"] != "local-cpu"
    if margin is not None:
        return margin < 0
    return size_tier(size_gb)["choice"] == "offload"
