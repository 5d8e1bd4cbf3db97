"""The runtime decision: which of local CPU, local GPU or Docker Offload the arbitration
chooses for one checked scenario, and the inputs it is made of (the local GPU, the workload).

:func:`decide_runtime` walks the ``[[arbitration]]`` steps of ``offload_vs_local.toml`` in
their order; :mod:`labadvisor.runtime` explains its answer, ``sweep()`` broadcasts it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from labadvisor.guides import offload_guide
from labadvisor.offload_facts import (
    DEPENDS,
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
from labadvisor.units import normalize_name, parse_size_gb

GpuState = Literal["none", "unknown", "holds", "too-small"]
# The workload assumed when none is given, by task.
_ASSUMED_WORKLOAD = {"inference": "code-completion", "training": "training"}


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
    # Nothing left holds it: the CPU (system memory), never a GPU not known to hold it.
    choice, step = picked if picked is not None else ("local-cpu", STEP_CAPACITY)
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
        deciding_rule=_deciding_rule(guide, step, choice, tier, gpu_state, sensitive, complexity),
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
        # A GPU of unknown free memory holds what the tiers send to a local GPU (usable):
        # then local_option is set, and the workload rule cannot send the work away.
        if step.id == STEP_LOCAL_GPU_HOLDS and gpu_state in ("holds", "unknown") and local_option:
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
    gpu_state: GpuState,
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
        if gpu_state == "unknown":
            # the tiers send 1-7 GB to a local GPU; a smaller model goes there only because
            # the work is complex and the GPU is assumed to hold it
            return tier.id if tier.choice == "local-gpu" else rules.gpu_present.id
        return rules.gpu_beyond_guide.id if tier.choice == "offload" else rules.gpu_fits.id
    if step == STEP_INTERACTIVE:
        return rules.interactive.id
    if step == STEP_WORKLOAD:
        return complexity.id
    return tier.id


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
        return LocalGpu(True, None, None, "gpu=True, free memory unknown")
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
    if free is None:
        why += ", free memory unknown"
    return LocalGpu(True, free, device.name, why, device.label)


def gpu_text(local: LocalGpu) -> str:
    if not local.name:
        return ""
    return f" {local.name} ({local.label})" if local.label else f" {local.name}"
