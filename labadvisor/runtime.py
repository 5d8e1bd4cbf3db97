"""Runtime advice: local CPU, local GPU or Docker Offload, with the rules that decided it."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

from labadvisor.costs import CostComparison, check_team_size, monthly_costs
from labadvisor.explain import Advice, Reason, fire
from labadvisor.guides import offload_guide
from labadvisor.offload_facts import (
    DEPENDS,
    RUNTIME_CHOICES,
    ComplexityClass,
    GpuFitRule,
    OffloadGuide,
    RuntimeChoice,
    SizeTier,
)
from labadvisor.records import Rule
from labadvisor.units import (
    bytes_per_parameter,
    check_finite_number,
    check_hours_per_day,
    normalize_name,
    parse_size_gb,
)

__all__ = ["RUNTIME_CHOICES", "LocalGpu", "RuntimeAdvice", "advise_runtime", "decide_runtime"]


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
    """A workload as advise_runtime understood it: its name, label and complexity class."""

    name: str
    label: str
    complexity: str


@dataclass(frozen=True)
class RuntimeDecision:
    """Which runtime the rules choose for one scenario, and what each rule did on the way.

    The choice depends only on the model size, the workload's complexity class, the local
    GPU and ``sensitive``; hours, rates and team size never change it.
    """

    choice: RuntimeChoice
    tier: SizeTier
    needed_gb: float  # the size plus the GPU-fit headroom
    margin_gb: float | None  # free GPU memory minus needed_gb, when the free memory is known
    gpu_rule: Rule | GpuFitRule  # what was found locally
    gpu_effect: RuntimeChoice | None  # where the GPU moved the size tier's answer, if it did
    complexity: ComplexityClass
    # Where sensitive code stays (None unless sensitive), and whether that hardware is
    # smaller than the model needs.
    sensitive_choice: RuntimeChoice | None
    sensitive_too_small: bool
    # A local GPU that holds the model beat the guide's size line, and the choice stayed.
    beyond_guide: bool


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
    guide = offload_guide()
    size_gb = _model_size_gb(model_size_gb, params_b, dtype)
    work = resolve_workload(workload)
    team_size = check_team_size(team_size)
    hours = None if hours_per_day is None else check_hours_per_day(hours_per_day)
    if not isinstance(sensitive, bool):
        raise ValueError(f"sensitive must be True or False, got {sensitive!r}")
    local = resolve_gpu(gpu)
    decision = decide_runtime(
        guide, size_gb, local, guide.complexity_class(work.complexity), sensitive
    )
    rules = guide.rules
    offload_gpu = guide.offload_gpu

    tier = decision.tier
    reasons = [
        fire(
            tier,
            guide.source(tier),
            tier.text,
            effect=tier.choice,
            size_gb=size_gb,
            offload_gpu=f"{offload_gpu.name} with {offload_gpu.memory_gb:g} GB",
        ),
        fire(
            decision.gpu_rule,
            guide.source(decision.gpu_rule),
            decision.gpu_rule.text,
            effect=decision.gpu_effect,
            **_gpu_values(guide, local, size_gb, decision),
        ),
    ]
    complexity = decision.complexity
    reasons.append(
        fire(
            complexity,
            guide.source(complexity),
            complexity.text,
            effect=None if complexity.push == "none" else complexity.push,
            workload_label=work.label,
        )
    )
    warnings: list[str] = []
    if decision.sensitive_choice is not None:
        rule = rules.sensitive
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                effect=decision.sensitive_choice,
                choice_label=guide.choice_labels[decision.sensitive_choice],
            )
        )
        if decision.sensitive_too_small and rule.warning is not None:
            warnings.append(rule.warning.render(size_gb=size_gb, why=local.why))
    if decision.beyond_guide:
        rule = rules.gpu_beyond_guide
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                effect=decision.choice,
                **_gpu_values(guide, local, size_gb, decision),
            )
        )
    if size_gb > offload_gpu.memory_gb:
        warnings.append(offload_gpu.warning.render(size_gb=size_gb))

    if team_size > 1:
        audience = guide.audience(team_size)
        reasons.append(
            Reason(
                rule=audience.id,
                text=rules.team.text.render(
                    team_size=team_size, audience=audience.audience, items="; ".join(audience.items)
                ),
                source=guide.source(audience),
            )
        )

    cost = None
    if hours is not None:
        cost = monthly_costs(hours, team_size=team_size)
        reasons.append(
            fire(
                rules.cost,
                guide.source(rules.cost),
                rules.cost.text,
                hours=hours,
                team=f" for {team_size} people" if team_size > 1 else "",
                cheaper_text=cost.cheaper_text,
                local=cost.local,
                offload=cost.offload,
                breakeven=cost.breakeven_hours_per_day,
            )
        )

    return RuntimeAdvice(
        choice=decision.choice,
        choice_label=guide.choice_labels[decision.choice],
        reasons=reasons,
        warnings=warnings,
        size_gb=size_gb,
        workload=work.name,
        complexity=work.complexity,
        gpu=local,
        fit_margin_gb=decision.margin_gb,
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


def decide_runtime(
    guide: OffloadGuide,
    size_gb: float,
    local: LocalGpu,
    complexity: ComplexityClass,
    sensitive: bool,
) -> RuntimeDecision:
    """The rules of the decision tree, in order, for one checked scenario.

    advise_runtime explains this decision; sweep() evaluates it once per distinct
    (size, workload class, GPU) and broadcasts the choices over the rest of its grid.
    """
    rules = guide.rules
    tier = guide.size_tier(size_gb)
    choice = tier.choice
    # Every answer says what was found locally; the GPU changes the choice only for medium
    # models (the guide's "Have local GPU?") and for large ones that fit it (labadvisor's rule).
    needed_gb = size_gb * (1 + rules.gpu_fits.headroom_fraction)
    margin = None if local.free_gb is None else local.free_gb - needed_gb
    gpu_rule: Rule | GpuFitRule
    if not local.available:
        gpu_rule, gpu_usable = rules.gpu_none, False
    elif margin is None:
        gpu_rule, gpu_usable = rules.gpu_present, True
    elif margin >= 0:
        gpu_rule, gpu_usable = rules.gpu_fits, True
    else:
        gpu_rule, gpu_usable = rules.gpu_too_small, False
    gpu_effect: RuntimeChoice | None = None
    beyond_guide = False
    if choice == "local-gpu":
        choice = gpu_effect = "local-gpu" if gpu_usable else tier.choice_when_no_usable_gpu
    elif choice == "offload" and margin is not None and margin >= 0:
        choice = gpu_effect = "local-gpu"
        beyond_guide = True

    if complexity.push != "none":
        choice = complexity.push

    sensitive_choice: RuntimeChoice | None = None
    too_small = False
    if sensitive:
        sensitive_choice = choice
        if choice == "offload":
            sensitive_choice = "local-gpu" if local.available else "local-cpu"
            too_small = _too_small_for(guide, sensitive_choice, size_gb, margin)
        choice = sensitive_choice
    return RuntimeDecision(
        choice=choice,
        tier=tier,
        needed_gb=needed_gb,
        margin_gb=margin,
        gpu_rule=gpu_rule,
        gpu_effect=gpu_effect,
        complexity=complexity,
        sensitive_choice=sensitive_choice,
        sensitive_too_small=too_small,
        beyond_guide=beyond_guide and choice == "local-gpu",
    )


def size_tier(size_gb: float) -> SizeTier:
    """The guide's size tier a model of ``size_gb`` falls in."""
    return offload_guide().size_tier(size_gb)


def workload_names() -> list[str]:
    """Every workload name advise_runtime accepts, canonical names first."""
    guide = offload_guide()
    names = [w.name for w in guide.workloads]
    names += [c.name for c in guide.complexity if c.name != DEPENDS]
    names += [a for w in guide.workloads for a in w.aliases]
    return names


def resolve_workload(workload: object) -> Workload:
    """Map a forgiving workload name ('Code Generation', 'code_review', 'complex') to its entry."""
    guide = offload_guide()
    if isinstance(workload, str):
        key = normalize_name(workload)
        for entry in guide.workloads:
            if key == entry.name or key in entry.aliases:
                return Workload(entry.name, entry.label, entry.complexity)
        for complexity in guide.complexity:
            if key == complexity.name and key != DEPENDS:
                return Workload(complexity.name, complexity.label, complexity.name)
    valid = ", ".join(workload_names())
    raise ValueError(f"unknown workload {workload!r}; valid workloads: {valid}")


def resolve_gpu(gpu: object) -> LocalGpu:
    """What advise_runtime's ``gpu`` argument says about the local GPU (detecting it for
    "auto"), or ValueError naming the valid values."""
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


def _gpu_values(
    guide: OffloadGuide, local: LocalGpu, size_gb: float, decision: RuntimeDecision
) -> dict[str, Any]:
    """The values the GPU rules' templates may use (see offload_facts.SUPPLIED)."""
    values: dict[str, Any] = {
        "gpu_name": _gpu_text(local),
        "why": local.why,
        "size_gb": size_gb,
        "needed_gb": decision.needed_gb,
        "headroom_pct": 100 * guide.rules.gpu_fits.headroom_fraction,
    }
    if local.free_gb is not None and decision.margin_gb is not None:
        values |= {
            "free_gb": local.free_gb,
            "margin_gb": decision.margin_gb,
            "short_gb": -decision.margin_gb,
        }
    return values


def _model_size_gb(model_size_gb: object, params_b: object, dtype: str) -> float:
    if model_size_gb is not None:
        return parse_size_gb(model_size_gb, "model_size_gb")
    if params_b is not None:
        params = check_finite_number(params_b, "params_b (billions of parameters)", minimum=0)
        return params * bytes_per_parameter(dtype)
    raise ValueError(
        "give the model's size: model_size_gb (e.g. 13 or '13GB') or params_b with dtype"
    )


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


def _too_small_for(
    guide: OffloadGuide, choice: RuntimeChoice, size_gb: float, margin: float | None
) -> bool:
    """Whether the local hardware sensitive code must stay on is smaller than the model."""
    if choice == "local-cpu":
        return guide.size_tier(size_gb).choice != "local-cpu"
    if margin is not None:
        return margin < 0
    return guide.size_tier(size_gb).choice == "offload"
