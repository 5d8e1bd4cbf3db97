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

When nothing available holds the requirement the answer is the local CPU (never a GPU not
known to hold it), and the warnings name the ways out.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from labadvisor.costs import (
    CostComparison,
    MeasuredHours,
    check_team_size,
    monthly_costs,
    resolve_hardware,
    resolve_hours,
)
from labadvisor.explain import NO_MATH, Advice, Reason, fire, settle
from labadvisor.guides import offload_guide
from labadvisor.memory import MemoryEstimate, estimate_memory, resolve_task
from labadvisor.offload_facts import RUNTIME_CHOICES
from labadvisor.runtime_decision import (
    LocalGpu,
    RuntimeDecision,
    Workload,
    decide_runtime,
    resolve_gpu,
    resolve_workload,
    size_tier,
    workload_names,
)
from labadvisor.runtime_reasons import (
    ReadProcesses,
    fit_lines,
    holders_reason,
    reasons_for,
    target_label,
    tier_lines,
    ways_out_for,
    why_not,
)
from labadvisor.units import check_finite_number, check_hours_per_day, gb_text

__all__ = [
    "RUNTIME_CHOICES",
    "LocalGpu",
    "RuntimeAdvice",
    "RuntimeDecision",
    "Workload",
    "advise_runtime",
    "decide_runtime",
    "resolve_gpu",
    "resolve_workload",
    "size_tier",
    "workload_names",
]


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
        return f"<details class='{NO_MATH}'><summary>Inputs</summary><ul>{items}</ul></details>"


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
    hours_per_day: float | str | None = None,
    team_size: int = 1,
    sensitive: bool = False,
    offline: bool = False,
    interactive: bool = False,
    hardware: str | None = None,
    usage_days: int = 30,
    gpu_processes: ReadProcesses | None = None,
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
    ``hours_per_day`` and ``team_size`` never change the choice; they add what it costs,
    against ``hardware`` ("owned-gpu", "buy-gpu", "cpu-only"; by default what ``gpu``
    found: an owned GPU when there is one, else this machine's CPU).
    ``hours_per_day="measured"`` takes the hours from the usage ledger: GPU busy hours
    (local GPUs at or above 10 % utilization) plus Docker Offload hours per day over the
    last ``usage_days`` days (:func:`labadvisor.costs.measured_hours`), and the cost reason
    quotes them; with no ledger or no samples yet it is a ValueError saying why.
    When ``gpu="auto"`` finds a GPU too small for the model, an info reason names the
    notebooks and processes holding the memory that would make it fit
    (:func:`labadvisor.gpu.make_room`), as ``gpu_processes()`` reports them: by default
    :func:`labadvisor.gpu.processes` as this process sees them (other kernels by their
    notebook where a local Jupyter server says, else by their kernel id); the Jupyter
    server passes a reader that names its kernels from its own kernel map.
    """
    guide = offload_guide()
    for name, flag in (("sensitive", sensitive), ("offline", offline)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if not isinstance(interactive, bool):
        raise ValueError(f"interactive must be True or False, got {interactive!r}")
    if gpu_processes is not None and not callable(gpu_processes):
        raise ValueError(
            "gpu_processes must be a function answering as labadvisor.gpu.processes() "
            f"does (or None), got {gpu_processes!r}"
        )
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
    hours: float | None = None
    measured: MeasuredHours | None = None
    if hours_per_day is not None:
        given, measured = resolve_hours(hours_per_day, usage_days)
        hours = check_hours_per_day(given)
    local = resolve_gpu(gpu)
    if hardware is None:
        hardware = "owned-gpu" if local.available else "cpu-only"
    local_option = resolve_hardware(hardware)
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
        "size": gb_text(memory.weights_gb, tier_lines(guide)),
        "needed": gb_text(needed_gb, fit_lines(guide, local)),
        "size_gb": memory.weights_gb,
        "needed_gb": needed_gb,
    }
    reasons = reasons_for(guide, decision, local, work, sizes, sensitive, offline, interactive)
    if decision.gpu_state == "too-small" and _detected(gpu):
        holders = holders_reason(local, needed_gb, gpu_processes)
        if holders is not None:
            reasons.append(holders)
    warnings: list[str] = []
    ways_out: list[str] = []
    rules = guide.rules
    if not decision.holds:
        if decision.local_only and rules.sensitive.warning is not None:
            warnings.append(rules.sensitive.warning.render(**sizes, why=local.why))
        if not decision.local_only and not decision.offload_holds:
            warnings.append(l4.warning.render(**sizes))
        ways_out = ways_out_for(guide, memory, decision, local, estimate, headroom)
        if ways_out and rules.capacity.warning is not None:
            warnings.append(rules.capacity.warning.render(**sizes, ways_out="; ".join(ways_out)))
    elif (
        decision.choice == "offload"
        and decision.local_option is not None
        and rules.interactive.warning is not None
    ):
        warnings.append(
            rules.interactive.warning.render(
                **sizes, local_label=target_label(guide, decision.local_option, local)
            )
        )

    cost = None
    if hours is not None:
        cost = monthly_costs(hours, team_size=team_size, hardware=local_option.name)
        if measured is not None:
            cost = replace(cost, measured=measured.text)
    if team_size > 1:
        audience = guide.audience(team_size)
        meaning = (
            f"the costs count each of the {team_size} members with their own machine "
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
        verdict = cost.verdict
        if cost.hardware == "cpu-only":
            line = next(t for t in guide.size_tiers if t.choice == "local-cpu")
            limit = line.below_gb or line.up_to_gb or 1
            verdict = f"{cost.local_label} adds no GPU cost, " + (
                f"and the guide runs models under {limit:g} GB on the CPU"
                if decision.tier.choice == "local-cpu"
                else f"but the guide keeps the CPU for models under {limit:g} GB: a "
                f"{sizes['size']} GB model may be too slow on it"
            )
        reasons.append(
            fire(
                rules.cost,
                guide.source(rules.cost),
                rules.cost.text,
                hours=round(cost.hours_per_day, 2),
                team=(f" ({cost.measured})" if cost.measured else "")
                + (f" for {team_size} people" if team_size > 1 else ""),
                local_label=cost.local_label,
                cheaper_text=cost.cheaper_text,
                verdict=verdict,
                local=cost.local,
                offload=cost.offload,
                rate=cost.offload_rate,
                rate_low=cost.rate_band[0],
                rate_high=cost.rate_band[1],
                breakeven=cost.breakeven_hours_per_day,
                breakeven_text=cost.breakeven_text,
                band_text=cost.band_text,
            )
        )

    settled = settle(reasons, decision.choice, decision.deciding_rule)
    settled = [why_not(guide, r, decision, local, work, sizes) for r in settled]
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
            "hardware": local_option.name,
        },
    )


def _detected(gpu: object) -> bool:
    """Whether ``gpu`` asked for this machine's GPU to be detected ("auto")."""
    return isinstance(gpu, str) and gpu.strip().lower() == "auto"
