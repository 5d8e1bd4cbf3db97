"""What each rule of a runtime decision says: reasons pointing where their rule points,
"Not followed: ..." for the overridden ones, and the ways out when nothing holds the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from labadvisor.explain import Reason, fire
from labadvisor.guides import model_facts
from labadvisor.memory import MemoryEstimate
from labadvisor.offload_facts import (
    DEPENDS,
    STEP_CAPACITY,
    STEP_LOCAL_ONLY,
    OffloadGuide,
    RuntimeChoice,
)
from labadvisor.runtime_decision import LocalGpu, RuntimeDecision, Workload, gpu_text
from labadvisor.units import gb_text

if TYPE_CHECKING:
    from labadvisor.gpu import GpuProcesses

# Who holds GPU memory, as labadvisor.gpu.processes() answers it.
ReadProcesses = Callable[[], "GpuProcesses"]

ASSUMED_TEXT = " (assumed: no workload was given)"
HOLDERS_RULE = "gpu.holders"
HOLDERS_SOURCE = "labadvisor (NVML: the GPU's compute processes, labadvisor.gpu.processes())"


def reasons_for(
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
            **gpu_values(guide, local, sizes, decision),
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
            assumed=ASSUMED_TEXT if work.assumed else "",
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
                **gpu_values(guide, local, sizes, decision),
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
                targets=targets_text(guide, decision, local),
            )
        )
    return reasons


def why_not(
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
        "target": target_label(guide, target, local),
        "local_gpu_holds": (
            ", whose free memory is unknown, is assumed to hold"
            if decision.gpu_state == "unknown"
            else " holds"
        ),
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


def target_label(guide: OffloadGuide, target: str, local: LocalGpu) -> str:
    if target == "offload":
        l4 = guide.offload_gpu
        return f"Docker Offload's {l4.name} ({l4.memory_gb:g} GB)"
    if target == "local-gpu":
        if local.free_gb is not None:
            return f"the local GPU{gpu_text(local)} ({local.free_gb:.1f} GB free)"
        return f"the local GPU{gpu_text(local)}"
    line = next((t.below_gb or t.up_to_gb for t in guide.size_tiers if t.choice == "local-cpu"), 1)
    return f"the local CPU (the guide keeps it for models under {line:g} GB)"


def targets_text(guide: OffloadGuide, decision: RuntimeDecision, local: LocalGpu) -> str:
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


def ways_out_for(
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
        targets.append((target_label(guide, "offload", local), guide.offload_gpu.memory_gb))
    if local.free_gb is not None:
        targets.append((target_label(guide, "local-gpu", local), local.free_gb))
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


def tier_lines(guide: OffloadGuide) -> list[float]:
    bounds = (b for t in guide.size_tiers for b in (t.from_gb, t.above_gb, t.below_gb, t.up_to_gb))
    return [b for b in bounds if b is not None]


def fit_lines(guide: OffloadGuide, local: LocalGpu) -> list[float]:
    lines = [guide.offload_gpu.memory_gb]
    if local.free_gb is not None:
        lines.append(local.free_gb)
    return lines


def gpu_values(
    guide: OffloadGuide, local: LocalGpu, sizes: dict[str, Any], decision: RuntimeDecision
) -> dict[str, Any]:
    """The values the GPU rules' templates may use (see offload_facts.SUPPLIED)."""
    values: dict[str, Any] = {
        **sizes,
        "gpu_name": gpu_text(local),
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


def holders_reason(
    local: LocalGpu, needed_gb: float, read_processes: ReadProcesses | None = None
) -> Reason | None:
    """An info reason naming who holds the memory that would make the model fit on the
    detected GPU ("18.2 GB needed, 9.1 GB free on GPU 0; notebook train.ipynb holds
    12.0 GB"), from :func:`labadvisor.gpu.make_room`; None where the processes cannot be
    read or the GPU is not found among them.

    ``read_processes`` reads the holders; by default :func:`labadvisor.gpu.processes` as
    this process sees them, where other kernels are listed as processes (inside a kernel
    the server's kernel map is not known). The Jupyter server passes its own reader, which
    names its kernels by notebook."""
    if local.label is None or local.free_gb is None:
        return None
    try:
        from labadvisor import gpu

        found = read_processes() if read_processes is not None else gpu.processes()
        unit = next((u for u in found.devices if u.label == local.label), None)
        if unit is None or not unit.valid or "processes" in unit.unavailable:
            return None  # which processes hold the memory is unknown: nothing to name
        room = gpu.make_room(round(needed_gb * 1e9), unit, round(local.free_gb * 1e9))
    except Exception:  # best effort: the advice stands without the holders
        return None
    if room.fits:
        return None
    return Reason(rule=HOLDERS_RULE, text=f"{room.text}.", source=HOLDERS_SOURCE)
