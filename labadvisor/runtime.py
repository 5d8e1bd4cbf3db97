"""Runtime advice: local CPU, local GPU or Docker Offload, with the rules that decided it.

One memory model: every fit check (the local GPU, Offload's L4) compares free memory with
:func:`labadvisor.memory.estimate_memory` for the caller's inputs. The order in which the
guide's rules win is data (``[[arbitration]]`` in ``offload_vs_local.toml``):

1. sensitive or offline → never Docker Offload;
2. capacity: only a target that holds the requirement can be chosen;
3. a local GPU known to hold the requirement keeps the work local;
4. interactive use prefers a local option that holds the model;
5. complex and production work goes to Offload when Offload holds it;
6. otherwise the guide's size tiers.

When nothing available holds the requirement the answer stays local (the CPU, or a GPU of
unknown free memory) and the warnings name the ways out.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from labadvisor.costs import CostComparison, check_team_size, monthly_costs
from labadvisor.explain import Advice, Reason, fire, settle
from labadvisor.guides import model_facts, offload_guide
from labadvisor.memory import MemoryEstimate, estimate_memory, resolve_task
from labadvisor.offload_facts import (
    DEPENDS,
    RUNTIME_CHOICES,
    STEP_CAPACITY,
    STEP_INTERACTIVE,
    STEP_LOCAL_GPU_HOLDS,
    STEP_LOCAL_ONLY,
    STEP_SIZE_TIERS,
    STEP_WORKLOAD,
    ComplexityClass,
    GpuFitRule,
    OffloadGuide,
    RuntimeChoice,
    SizeTier,
)
from labadvisor.records import Rule
from labadvisor.units import (
    check_finite_number,
    check_hours_per_day,
    gb_text,
    normalize_name,
    parse_size_gb,
)

__all__ = [
    "RUNTIME_CHOICES",
    "LocalGpu",
    "RuntimeAdvice",
    "RuntimeDecision",
    "advise_runtime",
    "decide_runtime",
]

# What is known about the local GPU against the requirement.
GpuState = Literal["none", "unknown", "holds", "too-small"]
# The workload assumed when none is given, by task.
_ASSUMED_WORKLOAD = {"inference": "code-completion", "training": "training"}
_ASSUMED_TEXT = " (assumed: no workload was given)"


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
    assumed: bool = False


@dataclass(frozen=True)
class RuntimeDecision:
    """Which runtime the rules choose for one scenario, and which step of the arbitration
    decided it.

    The choice depends only on the model size (for the guide's tiers), the memory
    requirement, the workload's complexity class, the local GPU, ``sensitive``, ``offline``
    and ``interactive``; hours, rates and team size never change it.
    """

    choice: RuntimeChoice
    step: str  # the arbitration step that decided (an ``[[arbitration]]`` id)
    deciding_rule: str  # the id of the rule whose reason is "decided"
    tier: SizeTier
    # Where the size tier points once the GPU is known (a medium model without a usable
    # GPU goes where the tier says for that case).
    tier_target: RuntimeChoice
    needed_gb: float  # the requirement every fit check uses
    margin_gb: float | None  # free GPU memory minus needed_gb, when the free memory is known
    gpu_state: GpuState
    gpu_rule: Rule | GpuFitRule  # what was found locally
    complexity: ComplexityClass
    local_only: bool  # sensitive or offline: Offload ruled out
    offload_holds: bool  # the L4 holds the requirement
    # The local option that holds the model (the CPU under the 1 GB line, a GPU that holds
    # it or one of unknown free memory for models the tiers send to a local GPU), if any.
    local_option: RuntimeChoice | None
    # Whether the chosen target is known (or, for a GPU of unknown free memory, assumed by
    # the guide's tiers) to hold the requirement. False: nothing available holds it.
    holds: bool


@dataclass
class RuntimeAdvice(Advice):
    size_gb: float = 0.0  # the weights, which the guide's size tiers judge
    workload: str = ""
    complexity: str = ""
    workload_assumed: bool = False
    task: str = "inference"
    gpu: LocalGpu | None = None
    memory: MemoryEstimate | None = None  # the estimate every fit check used
    needed_gb: float = 0.0  # memory.total_gb plus the configured headroom, if any
    fit_margin_gb: float | None = None  # local free memory minus needed_gb
    offload_margin_gb: float = 0.0  # the L4's memory minus needed_gb
    deciding_step: str = ""
    ways_out: list[str] = field(default_factory=list)
    cost: CostComparison | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    title = "Runtime advice"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            size_gb=self.size_gb,
            workload=self.workload,
            complexity=self.complexity,
            workload_assumed=self.workload_assumed,
            task=self.task,
            gpu=asdict(self.gpu) if self.gpu else None,
            memory=self.memory.to_dict() if self.memory else None,
            needed_gb=self.needed_gb,
            fit_margin_gb=self.fit_margin_gb,
            offload_margin_gb=self.offload_margin_gb,
            deciding_step=self.deciding_step,
            ways_out=list(self.ways_out),
            cost=self.cost.to_dict() if self.cost else None,
            inputs=dict(self.inputs),
        )
        return out

    def _details_text(self) -> list[str]:
        gpu = self.gpu.why if self.gpu else "unknown"
        assumed = " (assumed)" if self.workload_assumed else ""
        lines = [
            f"Model: {gb_text(self.size_gb, (1, 7))} GB of weights · needs "
            f"{gb_text(self.needed_gb)} GB for {self.task} · "
            f"workload: {self.workload}{assumed} ({self.complexity})",
        ]
        if self.memory is not None:
            lines.append(f"Memory: {str(self.memory).splitlines()[0]}")
        lines.append(f"Local GPU: {gpu}")
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
    preset: str | None = None,
    context_tokens: int | None = None,
    batch_size: int = 1,
    task: str = "inference",
    workload: str | None = None,
    gpu: Any = "auto",
    hours_per_day: float | None = None,
    team_size: int = 1,
    sensitive: bool = False,
    offline: bool = False,
    interactive: bool = False,
) -> RuntimeAdvice:
    """Where to run a model: "local-cpu", "local-gpu" or "offload", and why.

    The model is ``model_size_gb`` (its weights: ``13``, ``"13GB"``, in ``dtype``),
    ``params_b`` (billions of parameters) with ``dtype``, or a ``preset`` (a name or a
    Hugging Face id, as :func:`~labadvisor.estimate_memory`). ``context_tokens``,
    ``batch_size`` and ``task`` ("inference", "lora", "qlora", "full-finetune") complete
    the memory estimate that every fit check uses (``advice.memory``). ``workload`` defaults
    to code completion (training for a fine-tuning task), marked as assumed. ``gpu`` is
    "auto" (detect this kernel's GPU), None/False (none), True (a local GPU of unknown free
    memory) or the free GPU memory in GB. ``sensitive`` (code must not leave the machine)
    and ``offline`` (air-gapped) rule Offload out; ``interactive`` prefers a local option
    that holds the model (Offload starts in minutes and downloads the model each session).
    ``hours_per_day`` and ``team_size`` never change the choice; they add what it costs.
    """
    guide = offload_guide()
    for name, flag in (("sensitive", sensitive), ("offline", offline)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if not isinstance(interactive, bool):
        raise ValueError(f"interactive must be True or False, got {interactive!r}")
    job = resolve_task(task)
    if model_size_gb is None and params_b is None and preset is None:
        raise ValueError(
            "give the model's size: model_size_gb (e.g. 13 or '13GB'), params_b with dtype, "
            "or preset"
        )

    if params_b is not None:  # named as the surfaces label it; 0 is refused by estimate_memory
        check_finite_number(params_b, "params_b (billions of parameters)", minimum=0)

    def estimate(**changes: Any) -> MemoryEstimate:
        inputs: dict[str, Any] = {
            "model_size_gb": model_size_gb,
            "dtype": dtype,
            "context_tokens": context_tokens,
            "batch_size": batch_size,
            "preset": preset,
            "task": job,
        }
        inputs.update(changes)
        params = params_b
        if "dtype" in changes and model_size_gb is not None:
            # The same model in another dtype: its parameters stay, its size changes.
            inputs["model_size_gb"], params = None, memory.params_b
        return estimate_memory(params, **inputs)

    memory = estimate()
    work = resolve_workload(workload, task=job)
    team_size = check_team_size(team_size)
    hours = None if hours_per_day is None else check_hours_per_day(hours_per_day)
    local = resolve_gpu(gpu)
    headroom = guide.rules.gpu_fits.headroom_fraction
    needed_gb = memory.total_gb * (1 + headroom)
    decision = decide_runtime(
        guide,
        memory.weights_gb,
        needed_gb,
        local,
        guide.complexity_class(work.complexity),
        sensitive=sensitive,
        offline=offline,
        interactive=interactive,
    )
    l4 = guide.offload_gpu
    sizes = {
        "size": gb_text(memory.weights_gb, _tier_lines(guide)),
        "needed": gb_text(needed_gb, _fit_lines(guide, local)),
        "size_gb": memory.weights_gb,
        "needed_gb": needed_gb,
    }
    reasons = _reasons(guide, decision, local, work, sizes, sensitive, offline, interactive)
    warnings: list[str] = []
    ways_out: list[str] = []
    rules = guide.rules
    if not decision.holds:
        if decision.local_only and rules.sensitive.warning is not None:
            warnings.append(rules.sensitive.warning.render(**sizes, why=local.why))
        if not decision.local_only and not decision.offload_holds:
            warnings.append(l4.warning.render(**sizes))
        ways_out = _ways_out(guide, memory, decision, local, estimate, headroom)
        if ways_out and rules.capacity.warning is not None:
            warnings.append(rules.capacity.warning.render(**sizes, ways_out="; ".join(ways_out)))
    elif (
        decision.choice == "offload"
        and decision.local_option is not None
        and rules.interactive.warning is not None
    ):
        warnings.append(
            rules.interactive.warning.render(
                **sizes, local_label=_target_label(guide, decision.local_option, local)
            )
        )

    cost = None
    if hours is not None:
        cost = monthly_costs(hours, team_size=team_size)
    if team_size > 1:
        audience = guide.audience(team_size)
        meaning = (
            f"the costs below count each of the {team_size} members with their own machine "
            "and Offload hours"
            if cost is not None
            else f"costs count each of the {team_size} members with their own machine and "
            "Offload hours (give hours_per_day to compare them)"
        )
        reasons.append(
            Reason(
                rule=audience.id,
                text=rules.team.text.render(
                    team_size=team_size,
                    audience=audience.audience,
                    items="; ".join(audience.items),
                    cost_meaning=meaning,
                ),
                source=guide.source(audience),
            )
        )
    if cost is not None:
        reasons.append(
            fire(
                rules.cost,
                guide.source(rules.cost),
                rules.cost.text,
                hours=cost.hours_per_day,
                team=f" for {team_size} people" if team_size > 1 else "",
                cheaper_text=cost.cheaper_text,
                local=cost.local,
                offload=cost.offload,
                breakeven=cost.breakeven_hours_per_day,
            )
        )

    settled = settle(reasons, decision.choice, decision.deciding_rule)
    settled = [_with_why_not(guide, r, decision, local, work, sizes) for r in settled]
    return RuntimeAdvice(
        choice=decision.choice,
        choice_label=guide.choice_labels[decision.choice],
        reasons=settled,
        warnings=warnings,
        size_gb=memory.weights_gb,
        workload=work.name,
        complexity=work.complexity,
        workload_assumed=work.assumed,
        task=job,
        gpu=local,
        memory=memory,
        needed_gb=needed_gb,
        fit_margin_gb=decision.margin_gb,
        offload_margin_gb=l4.memory_gb - needed_gb,
        deciding_step=decision.step,
        ways_out=ways_out,
        cost=cost,
        inputs={
            "model_size_gb": model_size_gb,
            "params_b": params_b,
            "dtype": dtype,
            "preset": preset,
            "context_tokens": context_tokens,
            "batch_size": batch_size,
            "task": task,
            "workload": workload,
            "gpu": gpu if isinstance(gpu, (bool, int, float, str)) or gpu is None else repr(gpu),
            "hours_per_day": hours_per_day,
            "team_size": team_size,
            "sensitive": sensitive,
            "offline": offline,
            "interactive": interactive,
        },
    )


def decide_runtime(
    guide: OffloadGuide,
    size_gb: float,
    needed_gb: float,
    local: LocalGpu,
    complexity: ComplexityClass,
    *,
    sensitive: bool = False,
    offline: bool = False,
    interactive: bool = False,
) -> RuntimeDecision:
    """The arbitration for one checked scenario: ``size_gb`` (the weights, for the guide's
    size tiers) and ``needed_gb`` (the memory requirement, for every fit check).

    advise_runtime explains this decision; sweep() evaluates it once per distinct
    (model, workload class, GPU) and broadcasts the choices over the rest of its grid.
    """
    rules = guide.rules
    tier = guide.size_tier(size_gb)
    margin = None if local.free_gb is None else local.free_gb - needed_gb
    gpu_rule: Rule | GpuFitRule
    gpu_state: GpuState
    if not local.available:
        gpu_rule, gpu_state = rules.gpu_none, "none"
    elif margin is None:
        gpu_rule, gpu_state = rules.gpu_present, "unknown"
    elif margin >= 0:
        gpu_rule, gpu_state = rules.gpu_fits, "holds"
    else:
        gpu_rule, gpu_state = rules.gpu_too_small, "too-small"
    usable = gpu_state == "holds" or (gpu_state == "unknown" and tier.choice != "offload")
    tier_target = tier.choice
    if tier_target == "local-gpu" and not usable:
        tier_target = tier.choice_when_no_usable_gpu
    local_option = _local_option(tier, gpu_state, usable, complexity)
    local_only = sensitive or offline
    offload_holds = needed_gb <= guide.offload_gpu.memory_gb
    offload_ok = offload_holds and not local_only
    picked = _choose(
        guide, tier_target, gpu_state, local_option, complexity, offload_ok, interactive
    )
    fallback: RuntimeChoice = "local-gpu" if gpu_state == "unknown" else "local-cpu"
    choice, step = picked if picked is not None else (fallback, STEP_CAPACITY)
    if local_only and choice != "offload":
        unrestricted = _choose(
            guide, tier_target, gpu_state, local_option, complexity, offload_holds, interactive
        )
        if unrestricted is not None and unrestricted[0] == "offload":
            step = STEP_LOCAL_ONLY
    holds = {
        "local-cpu": tier.choice == "local-cpu",
        "local-gpu": usable,
        "offload": offload_holds,
    }[choice]
    return RuntimeDecision(
        choice=choice,
        step=step,
        deciding_rule=_deciding_rule(guide, step, choice, tier, sensitive, complexity),
        tier=tier,
        tier_target=tier_target,
        needed_gb=needed_gb,
        margin_gb=margin,
        gpu_state=gpu_state,
        gpu_rule=gpu_rule,
        complexity=complexity,
        local_only=local_only,
        offload_holds=offload_holds,
        local_option=local_option,
        holds=holds,
    )


def _local_option(
    tier: SizeTier, gpu_state: GpuState, usable: bool, complexity: ComplexityClass
) -> RuntimeChoice | None:
    """The local option that holds the model: the CPU for simple work under the 1 GB line,
    else a usable local GPU, else the CPU under the line; None when nothing local does."""
    small = tier.choice == "local-cpu"
    if small and complexity.push != "offload":
        return "local-cpu"
    if usable:
        return "local-gpu"
    return "local-cpu" if small else None


def _choose(
    guide: OffloadGuide,
    tier_target: RuntimeChoice,
    gpu_state: GpuState,
    local_option: RuntimeChoice | None,
    complexity: ComplexityClass,
    offload_ok: bool,
    interactive: bool,
) -> tuple[RuntimeChoice, str] | None:
    """(choice, deciding step) from the decisive steps in the data's order, among the
    options the filters left; None when no option left holds the model."""
    for step in guide.arbitration:
        if step.id == STEP_LOCAL_GPU_HOLDS and gpu_state == "holds" and local_option:
            return local_option, step.id
        if step.id == STEP_INTERACTIVE and interactive and local_option:
            return local_option, step.id
        if step.id == STEP_WORKLOAD:
            push = complexity.push
            if push == "offload" and offload_ok:
                return "offload", step.id
            if push in ("local-cpu", "local-gpu") and local_option == push:
                return push, step.id
        if step.id == STEP_SIZE_TIERS:
            # tier_target is a local GPU only when one is usable, and the CPU is always there.
            if tier_target != "offload" or offload_ok:
                return tier_target, step.id
            return None
    return None  # pragma: no cover - the data always ends with the size tiers


def _deciding_rule(
    guide: OffloadGuide,
    step: str,
    choice: RuntimeChoice,
    tier: SizeTier,
    sensitive: bool,
    complexity: ComplexityClass,
) -> str:
    rules = guide.rules
    if step == STEP_LOCAL_ONLY:
        return rules.sensitive.id if sensitive else rules.offline.id
    if step == STEP_CAPACITY:
        return rules.capacity.id
    if step == STEP_LOCAL_GPU_HOLDS:
        if choice == "local-cpu":
            return tier.id
        return rules.gpu_beyond_guide.id if tier.choice == "offload" else rules.gpu_fits.id
    if step == STEP_INTERACTIVE:
        return rules.interactive.id
    if step == STEP_WORKLOAD:
        return complexity.id
    return tier.id


def _reasons(
    guide: OffloadGuide,
    decision: RuntimeDecision,
    local: LocalGpu,
    work: Workload,
    sizes: dict[str, Any],
    sensitive: bool,
    offline: bool,
    interactive: bool,
) -> list[Reason]:
    """Every rule that fired, each pointing where it points; settle() weighs them."""
    rules = guide.rules
    choice = decision.choice
    tier = decision.tier
    l4 = guide.offload_gpu
    offload_gpu = f"{l4.name} ({l4.memory_gb:g} GB)"
    reasons = [
        fire(
            tier,
            guide.source(tier),
            tier.text,
            points_to=decision.tier_target,
            **sizes,
            offload_gpu=f"{l4.name} with {l4.memory_gb:g} GB",
        )
    ]
    gpu_points: RuntimeChoice | None = None
    if decision.gpu_state in ("holds", "unknown") and choice == "local-gpu":
        gpu_points = "local-gpu"
    elif decision.gpu_state == "holds" and choice == "offload":
        gpu_points = "local-gpu"  # it held the model and lost (a reordered arbitration)
    reasons.append(
        fire(
            decision.gpu_rule,
            guide.source(decision.gpu_rule),
            decision.gpu_rule.text,
            points_to=gpu_points,
            **_gpu_values(guide, local, sizes, decision),
        )
    )
    complexity = decision.complexity
    complexity_points: str | None = None
    if complexity.push != "none":
        complexity_points = complexity.push
    elif complexity.name != DEPENDS:  # simple work: the guide's "Local Development"
        if decision.tier.choice == "local-cpu" or decision.gpu_state == "none":
            complexity_points = "local-cpu"
        else:
            complexity_points = "local-gpu"
    reasons.append(
        fire(
            complexity,
            guide.source(complexity),
            complexity.text,
            points_to=complexity_points,
            workload_label=work.label,
            assumed=_ASSUMED_TEXT if work.assumed else "",
        )
    )
    if not decision.offload_holds and not decision.local_only:
        rule = rules.offload_too_small
        reasons.append(fire(rule, guide.source(rule), rule.text, **sizes, offload_gpu=offload_gpu))
    for flag, rule in ((sensitive, rules.sensitive), (offline, rules.offline)):
        if flag:
            label = guide.choice_labels[choice]
            reason = fire(
                rule, guide.source(rule), rule.text, points_to=choice, **sizes, choice_label=label
            )
            reasons.append(reason)
    if interactive:
        rule = rules.interactive
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                points_to=decision.local_option,
                **sizes,
                choice_label=guide.choice_labels[choice],
            )
        )
    if decision.deciding_rule == rules.gpu_beyond_guide.id:
        rule = rules.gpu_beyond_guide
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                points_to=choice,
                **_gpu_values(guide, local, sizes, decision),
            )
        )
    if decision.step == STEP_CAPACITY:
        rule = rules.capacity
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                points_to=choice,
                **sizes,
                choice_label=guide.choice_labels[choice],
                targets=_targets_text(guide, decision, local),
            )
        )
    return reasons


def _with_why_not(
    guide: OffloadGuide,
    reason: Reason,
    decision: RuntimeDecision,
    local: LocalGpu,
    work: Workload,
    sizes: dict[str, Any],
) -> Reason:
    """An overridden reason with "Not followed: ..." saying which step beat it and why."""
    if reason.effect != "overridden" or reason.points_to is None:
        return reason
    target = reason.points_to
    values = {
        **sizes,
        "offload_gpu": f"{guide.offload_gpu.name} ({guide.offload_gpu.memory_gb:g} GB)",
        "workload_label": work.label,
        "choice_label": guide.choice_labels[decision.choice],
        "target": _target_label(guide, target, local),
    }
    cannot_hold = (
        (target == "offload" and not decision.offload_holds)
        or (target == "local-gpu" and decision.gpu_state in ("too-small", "none"))
        or (target == "local-cpu" and decision.tier.choice != "local-cpu")
    )
    if cannot_hold:
        step = guide.step(STEP_CAPACITY)
    elif target == "offload" and decision.local_only:
        step = guide.step(STEP_LOCAL_ONLY)
    else:
        step = guide.step(decision.step)
    because = step.because.render(**values)
    return replace(reason, text=f"{reason.text} Not followed: {because}.")


def _target_label(guide: OffloadGuide, target: str, local: LocalGpu) -> str:
    if target == "offload":
        l4 = guide.offload_gpu
        return f"Docker Offload's {l4.name} ({l4.memory_gb:g} GB)"
    if target == "local-gpu":
        if local.free_gb is not None:
            return f"the local GPU{_gpu_text(local)} ({local.free_gb:.1f} GB free)"
        return f"the local GPU{_gpu_text(local)}"
    line = next((t.below_gb or t.up_to_gb for t in guide.size_tiers if t.choice == "local-cpu"), 1)
    return f"the local CPU (the guide keeps it for models under {line:g} GB)"


def _targets_text(guide: OffloadGuide, decision: RuntimeDecision, local: LocalGpu) -> str:
    parts = []
    if decision.local_only:
        parts.append("Docker Offload is ruled out")
    else:
        parts.append(
            f"Docker Offload's {guide.offload_gpu.name} has {guide.offload_gpu.memory_gb:g} GB"
        )
    if local.free_gb is not None:
        parts.append(f"the local GPU has {local.free_gb:.1f} GB free")
    elif local.available:
        parts.append("the local GPU's free memory is unknown")
    else:
        parts.append("there is no local GPU")
    return "; ".join(parts)


def _ways_out(
    guide: OffloadGuide,
    memory: MemoryEstimate,
    decision: RuntimeDecision,
    local: LocalGpu,
    estimate: Callable[..., MemoryEstimate],
    headroom: float,
) -> list[str]:
    """The changes that would make a target hold the model: the first smaller dtype, the
    longest context, LoRA/QLoRA instead of a full fine-tune; and the GPU it would take."""
    targets: list[tuple[str, float]] = []
    if not decision.local_only:
        targets.append((_target_label(guide, "offload", local), guide.offload_gpu.memory_gb))
    if local.free_gb is not None:
        targets.append((_target_label(guide, "local-gpu", local), local.free_gb))
    ways: list[str] = []

    def where(candidate: MemoryEstimate) -> str | None:
        needed = candidate.total_gb * (1 + headroom)
        fitting = [label for label, capacity in targets if needed <= capacity]
        if not fitting:
            return None
        return (
            f"it needs {gb_text(needed, [c for _, c in targets])} GB: fits {' and '.join(fitting)}"
        )

    facts = model_facts()
    current = facts.dtypes[memory.dtype]
    smaller = sorted(
        (name for name, size in facts.dtypes.items() if size < current),
        key=lambda name: -facts.dtypes[name],
    )
    if memory.task in ("inference", "lora"):
        for name in smaller:
            fits_in = where(estimate(dtype=name))
            if fits_in:
                ways.append(f"in {name} {fits_in}")
                break
    if memory.task == "full-finetune":
        for task in ("lora", "qlora"):
            fits_in = where(estimate(task=task))
            if fits_in:
                method = "LoRA" if task == "lora" else "QLoRA"
                ways.append(f"with {method} instead of a full fine-tune {fits_in}")
                break
    elif memory.task == "lora":
        fits_in = where(estimate(task="qlora"))
        if fits_in:
            ways.append(f"with QLoRA {fits_in}")
    tokens = memory.context_tokens
    variable = (memory.kv_cache_gb or 0.0) + (memory.activations_gb or 0.0)
    if targets and tokens and variable > 0:
        fixed = memory.total_gb - variable
        capacity = max(c for _, c in targets) / (1 + headroom)
        longest = int((capacity - fixed) / (variable / tokens))
        if 0 < longest < tokens:
            fits_in = where(estimate(context_tokens=longest))
            if fits_in:
                ways.append(f"with context_tokens={longest} (not {tokens}) {fits_in}")
    ways.append(f"a GPU with at least {gb_text(decision.needed_gb)} GB free")
    return ways


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


def resolve_workload(workload: object, *, task: str = "inference") -> Workload:
    """Map a forgiving workload name ('Code Generation', 'code_review', 'complex') to its
    entry; None is the assumed default for ``task`` (code completion, or training)."""
    guide = offload_guide()
    if workload is None:
        default = _ASSUMED_WORKLOAD["inference" if task == "inference" else "training"]
        return replace(resolve_workload(default), assumed=True)
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


def _tier_lines(guide: OffloadGuide) -> list[float]:
    bounds = (b for t in guide.size_tiers for b in (t.from_gb, t.above_gb, t.below_gb, t.up_to_gb))
    return [b for b in bounds if b is not None]


def _fit_lines(guide: OffloadGuide, local: LocalGpu) -> list[float]:
    lines = [guide.offload_gpu.memory_gb]
    if local.free_gb is not None:
        lines.append(local.free_gb)
    return lines


def _gpu_values(
    guide: OffloadGuide, local: LocalGpu, sizes: dict[str, Any], decision: RuntimeDecision
) -> dict[str, Any]:
    """The values the GPU rules' templates may use (see offload_facts.SUPPLIED)."""
    values: dict[str, Any] = {
        **sizes,
        "gpu_name": _gpu_text(local),
        "why": local.why,
        "headroom_pct": 100 * guide.rules.gpu_fits.headroom_fraction,
    }
    if local.free_gb is not None and decision.margin_gb is not None:
        values |= {
            "free_gb": local.free_gb,
            "margin_gb": decision.margin_gb,
            "short_gb": -decision.margin_gb,
        }
    return values


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
