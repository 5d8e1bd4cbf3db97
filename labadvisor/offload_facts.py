"""The facts of "When to Use Docker Offload vs Local Development" as typed, checked records.

:func:`build` turns the merged ``offload_vs_local.toml`` (packaged values plus overrides)
into an :class:`OffloadGuide`, refusing anything the advisers could trip over later: a
missing or mistyped value, a headroom outside [0, 1), size tiers that overlap or leave a
gap, a negative price, a repeated id, a template placeholder the code does not supply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labadvisor.records import (
    ArbitrationStep,
    Entry,
    Rule,
    Table,
    read_arbitration,
    read_rule,
    unique,
)
from labadvisor.templates import Template

RuntimeChoice = Literal["local-cpu", "local-gpu", "offload"]
RUNTIME_CHOICES: tuple[RuntimeChoice, ...] = ("local-cpu", "local-gpu", "offload")
Push = Literal["none", "local-cpu", "local-gpu", "offload"]
_PUSHES: tuple[Push, ...] = ("none", "local-cpu", "local-gpu", "offload")
Winner = Literal["local", "offload", "none"]
Side = Literal["local", "offload"]
# The complexity class of workloads the guide leaves open ("Local/Offload"); it is not a
# workload name of its own.
DEPENDS = "depends"

# The values the code passes to each template (name -> an example of its type). A
# template may use these and its own entry's values, nothing else. Every runtime template
# gets the sizes: ``size``/``needed`` as text with enough digits to stay true next to the
# guide's lines ("0.996"), ``size_gb``/``needed_gb`` as numbers.
_SIZES: Mapping[str, Any] = {"size": "0.996", "needed": "1.6", "size_gb": 1.0, "needed_gb": 1.2}
_GPU_FIELDS = {**_SIZES, "gpu_name": " NVIDIA L4", "why": "detected", "headroom_pct": 20.0}
_GPU_FIT_FIELDS = _GPU_FIELDS | {"free_gb": 2.0, "margin_gb": 0.8, "short_gb": -0.8}
_ARBITRATION_FIELDS = {
    **_SIZES,
    "target": "Docker Offload's NVIDIA L4 (23 GB)",
    "offload_gpu": "NVIDIA L4 (23 GB)",
    "workload_label": "Code Review",
    "choice_label": "Local GPU",
    "local_gpu_holds": ", whose free memory is unknown, is assumed to hold",
}
SUPPLIED: Mapping[str, Mapping[str, Any]] = {
    "size_tier": {**_SIZES, "offload_gpu": "NVIDIA L4 with 23 GB"},
    "complexity": {"workload_label": "Code Review", "assumed": " (assumed)"},
    "offload_gpu.warning": _SIZES,
    "arbitration": _ARBITRATION_FIELDS,
    "gpu-fits": _GPU_FIT_FIELDS,
    "gpu-beyond-guide": _GPU_FIT_FIELDS,
    "gpu-too-small": _GPU_FIT_FIELDS,
    "gpu-none": _GPU_FIELDS,
    "gpu-present": _GPU_FIELDS,
    "sensitive": {**_SIZES, "choice_label": "Local GPU"},
    "sensitive.warning": {**_SIZES, "why": "no local GPU"},
    "offline": {**_SIZES, "choice_label": "Local GPU"},
    "interactive": {**_SIZES, "choice_label": "Local GPU"},
    "interactive.warning": {**_SIZES, "local_label": "the local GPU"},
    "capacity": {**_SIZES, "choice_label": "Local CPU", "targets": "the L4 has 23 GB"},
    "capacity.warning": {**_SIZES, "ways_out": "in int8 it needs 13 GB: fits the L4"},
    "offload-too-small": {**_SIZES, "offload_gpu": "NVIDIA L4 (23 GB)"},
    "team": {
        "team_size": 5,
        "audience": "Small Teams",
        "items": "a; b",
        "cost_meaning": "costs count each member",
    },
    "cost": {
        "hours": 6.0,
        "team": " for 5 people",
        "local_label": "your owned GPU workstation",
        "cheaper_text": "your owned GPU workstation is cheaper",
        "verdict": "your owned GPU workstation is cheaper",
        "local": 75.0,
        "offload": 90.0,
        "rate": 0.5,
        "rate_low": 0.5,
        "rate_high": 2.0,
        "breakeven": 5.0,
        "breakeven_text": "5.0 h/day at $0.50/h",
        "band_text": "1.2-5.0 h/day",
    },
}

Hardware = Literal["owned-gpu", "buy-gpu", "cpu-only"]
HARDWARE: tuple[Hardware, ...] = ("owned-gpu", "buy-gpu", "cpu-only")
# The pay-per-use entries the cost model prices: the L4's hourly band and storage.
OFFLOAD_RATE_ID = "cost.offload.l4"
STORAGE_ID = "cost.offload.storage"


@dataclass(frozen=True)
class GuideInfo:
    id: str
    file: str
    title: str


@dataclass(frozen=True)
class SizeTier(Entry):
    """A branch of the decision tree's "Model Size?" question.

    Bounds: ``from_gb`` (>=), ``above_gb`` (>), ``below_gb`` (<), ``up_to_gb`` (<=).
    """

    label: str
    guide_range: str
    from_gb: float | None
    above_gb: float | None
    below_gb: float | None
    up_to_gb: float | None
    choice: RuntimeChoice
    choice_without_gpu: RuntimeChoice | None
    text: Template

    def contains(self, size_gb: float) -> bool:
        return (
            (self.from_gb is None or size_gb >= self.from_gb)
            and (self.above_gb is None or size_gb > self.above_gb)
            and (self.below_gb is None or size_gb < self.below_gb)
            and (self.up_to_gb is None or size_gb <= self.up_to_gb)
        )

    @property
    def choice_when_no_usable_gpu(self) -> RuntimeChoice:
        return self.choice_without_gpu or self.choice


@dataclass(frozen=True)
class ComplexityClass(Entry):
    name: str
    label: str
    examples: tuple[str, ...]
    guide_choice: str
    # The runtime this class pulls the choice towards; "none" leaves the size in charge.
    push: Push
    text: Template


@dataclass(frozen=True)
class WorkloadType(Entry):
    name: str
    label: str
    aliases: tuple[str, ...]
    complexity: str
    recommendation: str
    reasoning: str


@dataclass(frozen=True)
class OffloadGpu(Entry):
    name: str
    memory_gb: float
    warning: Template


@dataclass(frozen=True)
class GpuFitRule(Entry):
    # Free memory must exceed the model by this fraction (activations, CUDA context).
    headroom_fraction: float
    text: Template


@dataclass(frozen=True)
class RuntimeRules:
    gpu_fits: GpuFitRule
    gpu_beyond_guide: Rule
    gpu_too_small: Rule
    gpu_none: Rule
    gpu_present: Rule
    sensitive: Rule
    offline: Rule
    interactive: Rule
    capacity: Rule
    offload_too_small: Rule
    team: Rule
    cost: Rule


# The steps of the arbitration, by id. The filters rule options out and come first, in
# this order; the decisive steps may be reordered; the size tiers always come last.
STEP_LOCAL_ONLY = "step.local-only"
STEP_CAPACITY = "step.capacity"
STEP_LOCAL_GPU_HOLDS = "step.local-gpu-holds"
STEP_INTERACTIVE = "step.interactive"
STEP_WORKLOAD = "step.workload"
STEP_SIZE_TIERS = "step.size-tiers"
FILTER_STEPS = (STEP_LOCAL_ONLY, STEP_CAPACITY)
DECISIVE_STEPS = frozenset({STEP_LOCAL_GPU_HOLDS, STEP_INTERACTIVE, STEP_WORKLOAD})


@dataclass(frozen=True)
class ComparisonRow(Entry):
    category: str
    factor: str
    local: str
    offload: str
    winner: Winner


@dataclass(frozen=True)
class UseCase(Entry):
    runtime: Side
    name: str
    scenario: str
    why: str
    models: str
    example: str


@dataclass(frozen=True)
class CostDefaults(Entry):
    local_monthly: float
    offload_rate: float
    # Days of use per month; whole days stay ints so they print as "30".
    days: float


@dataclass(frozen=True)
class LocalOption(Entry):
    """What "local" is for a user: which costs it carries and how a reason names it."""

    name: Hardware
    label: str
    operating: bool  # the monthly operating cost (local_monthly)
    purchase: bool  # the purchase, spread over amortize_months


@dataclass(frozen=True)
class Purchase(Entry):
    amortize_months: int


@dataclass(frozen=True)
class PriceRange(Entry):
    item: str
    low: float
    high: float
    unit: str | None


@dataclass(frozen=True)
class PriceEstimate(Entry):
    item: str
    approx: float


@dataclass(frozen=True)
class UsageScenario(Entry):
    name: str
    hours_label: str
    hours_per_day: float
    stated_monthly: float


@dataclass(frozen=True)
class BreakevenVerdicts:
    section: str
    local: str
    offload: str
    equal: str
    mixed: str


@dataclass(frozen=True)
class BreakevenRow(Entry):
    usage_level: str
    team_size: int
    # One figure (``hours_per_day``) gives equal ends; a range row has both.
    hours_per_day_low: float
    hours_per_day_high: float


@dataclass(frozen=True)
class CostFacts:
    defaults: CostDefaults
    local_options: Mapping[Hardware, LocalOption]
    purchase: Purchase
    hardware: tuple[PriceRange, ...]
    hardware_total: PriceEstimate
    operational: tuple[PriceRange, ...]
    pay_per_use: tuple[PriceRange, ...]
    usage_scenarios: tuple[UsageScenario, ...]
    breakeven_verdicts: BreakevenVerdicts
    breakeven_rows: tuple[BreakevenRow, ...]

    def price(self, entry_id: str) -> PriceRange:
        # The ids the cost model asks for are checked to exist when loaded.
        return next(p for p in self.pay_per_use if p.id == entry_id)


@dataclass(frozen=True)
class MigrationPhase(Entry):
    phase: int
    name: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class FlowStep(Entry):
    question: str
    source: str  # the chart's "from" box
    yes: str
    no: str


@dataclass(frozen=True)
class HybridStage(Entry):
    stage: str
    use_for: str


@dataclass(frozen=True)
class Items(Entry):
    items: tuple[str, ...]


@dataclass(frozen=True)
class Risk(Entry):
    side: Side
    risk: str
    detail: str


@dataclass(frozen=True)
class Audience(Entry):
    audience: str
    min_team: int
    max_team: int | None
    items: tuple[str, ...]

    def contains(self, team_size: int) -> bool:
        return self.min_team <= team_size and (self.max_team is None or team_size <= self.max_team)


@dataclass(frozen=True)
class OffloadGuide:
    guide: GuideInfo
    choice_labels: Mapping[RuntimeChoice, str]
    size_tiers: tuple[SizeTier, ...]
    complexity: tuple[ComplexityClass, ...]
    workloads: tuple[WorkloadType, ...]
    offload_gpu: OffloadGpu
    rules: RuntimeRules
    arbitration: tuple[ArbitrationStep, ...]
    comparison: tuple[ComparisonRow, ...]
    use_cases: tuple[UseCase, ...]
    costs: CostFacts
    migration_phases: tuple[MigrationPhase, ...]
    migration_flow: tuple[FlowStep, ...]
    hybrid: tuple[HybridStage, ...]
    hybrid_benefits: Items
    risks: tuple[Risk, ...]
    audiences: tuple[Audience, ...]

    def source(self, entry: Entry) -> str:
        """Where an entry's fact comes from: a guide section, or labadvisor's own rule."""
        if entry.section.startswith("labadvisor"):
            return entry.section
        return f"{self.guide.file} › {entry.section}"

    def step(self, step_id: str) -> ArbitrationStep:
        # Every known step is checked to be present when loaded.
        return next(step for step in self.arbitration if step.id == step_id)

    def size_tier(self, size_gb: float) -> SizeTier:
        # Tiers are checked gap-free from 0 GB up when loaded, so one always matches.
        return next(tier for tier in self.size_tiers if tier.contains(size_gb))

    def complexity_class(self, name: str) -> ComplexityClass:
        # Every workload's class is checked to exist when loaded.
        return next(entry for entry in self.complexity if entry.name == name)

    def audience(self, team_size: int) -> Audience:
        return next(entry for entry in self.audiences if entry.contains(team_size))


def build(raw: Mapping[str, Any], path: str) -> OffloadGuide:
    """Check the merged data set ``raw`` (named ``path`` in errors) and build the guide."""
    top = Table(raw, path)
    guide_table = top.table("guide")
    guide = GuideInfo(guide_table.text("id"), guide_table.text("file"), guide_table.text("title"))
    guide_table.done()

    choices = top.named_tables("choices")
    if set(choices) != set(RUNTIME_CHOICES):
        raise ValueError(f"{path}.choices must name exactly {', '.join(RUNTIME_CHOICES)}")
    labels: dict[RuntimeChoice, str] = {}
    for name in RUNTIME_CHOICES:
        labels[name] = choices[name].text("label")
        choices[name].done()

    costs = _costs(top.table("costs"))
    guide_record = OffloadGuide(
        guide=guide,
        choice_labels=labels,
        size_tiers=_size_tiers(top),
        complexity=tuple(_complexity(t) for t in top.tables("complexity")),
        workloads=tuple(_workload(t) for t in top.tables("workloads")),
        offload_gpu=_offload_gpu(top.table("offload_gpu")),
        rules=_rules(top.table("rules")),
        arbitration=_arbitration(top),
        comparison=tuple(_comparison(t) for t in top.tables("comparison")),
        use_cases=tuple(_use_case(t) for t in top.tables("use_cases")),
        costs=costs,
        migration_phases=tuple(_phase(t) for t in top.tables("migration_phases")),
        migration_flow=tuple(_flow(t) for t in top.tables("migration_flow")),
        hybrid=tuple(_hybrid(t) for t in top.tables("hybrid")),
        hybrid_benefits=_items(top.table("hybrid_benefits")),
        risks=tuple(_risk(t) for t in top.tables("risks")),
        audiences=_audiences(top),
    )
    top.done()
    _check_links(guide_record, path)
    return guide_record


def _size_tiers(top: Table) -> tuple[SizeTier, ...]:
    tiers = []
    for t in top.tables("size_tiers"):
        bounds = {
            key: t.optional_number(key, minimum=0)
            for key in ("from_gb", "above_gb", "below_gb", "up_to_gb")
        }
        choice = t.one_of("choice", RUNTIME_CHOICES)
        without = t.optional_one_of("choice_without_gpu", RUNTIME_CHOICES)
        if choice == "local-gpu" and without in (None, "local-gpu"):
            raise ValueError(
                f"{t.where('choice_without_gpu')} must say where a model of this tier goes "
                "without a usable local GPU (local-cpu or offload)"
            )
        tiers.append(
            SizeTier(
                id=t.text("id"),
                section=t.text("section"),
                label=t.text("label"),
                guide_range=t.text("guide_range"),
                from_gb=bounds["from_gb"],
                above_gb=bounds["above_gb"],
                below_gb=bounds["below_gb"],
                up_to_gb=bounds["up_to_gb"],
                choice=choice,
                choice_without_gpu=without,
                text=t.template("text", SUPPLIED["size_tier"]),
            )
        )
        t.done()
    _check_tiers_cover_every_size(tiers, top.where("size_tiers"))
    return tuple(tiers)


def _check_tiers_cover_every_size(tiers: list[SizeTier], path: str) -> None:
    """Tiers must run from 0 GB upwards, each starting where the previous one ends (exactly
    one of the two including that size), the last one open-ended."""
    if not tiers:
        raise ValueError(f"{path} must have at least one tier")
    expected_start, expected_inclusive = 0.0, True
    for position, tier in enumerate(tiers):
        where = f"{path}[{tier.id}]"
        if tier.from_gb is not None and tier.above_gb is not None:
            raise ValueError(f"{where} has two lower bounds (from_gb and above_gb)")
        if tier.below_gb is not None and tier.up_to_gb is not None:
            raise ValueError(f"{where} has two upper bounds (below_gb and up_to_gb)")
        start, inclusive = 0.0, True  # no lower bound: from 0 GB
        if tier.from_gb is not None:
            start = tier.from_gb
        elif tier.above_gb is not None:
            start, inclusive = tier.above_gb, False
        if (start, inclusive) != (expected_start, expected_inclusive):
            wanted = "from_gb" if expected_inclusive else "above_gb"
            raise ValueError(
                f"{where} must start where the tier before it ends ({wanted} = "
                f"{expected_start:g}): size tiers must be in order with no gap or overlap"
            )
        end = tier.below_gb if tier.below_gb is not None else tier.up_to_gb
        if end is None:
            if position != len(tiers) - 1:
                raise ValueError(f"{where} has no upper bound but is not the last tier")
            return
        if end < start or (end == start and not (inclusive and tier.up_to_gb is not None)):
            raise ValueError(f"{where} ends at {end:g} GB, before it starts at {start:g} GB")
        # The next tier includes this end exactly when this tier does not.
        expected_start, expected_inclusive = end, tier.below_gb is not None
    raise ValueError(f"{path}: the last tier ({tiers[-1].id}) must have no upper bound")


def _complexity(t: Table) -> ComplexityClass:
    record = ComplexityClass(
        id=t.text("id"),
        section=t.text("section"),
        name=t.text("name"),
        label=t.text("label"),
        examples=t.texts("examples"),
        guide_choice=t.text("guide_choice"),
        push=t.one_of("push", _PUSHES),
        text=t.template("text", SUPPLIED["complexity"]),
    )
    t.done()
    return record


def _workload(t: Table) -> WorkloadType:
    record = WorkloadType(
        id=t.text("id"),
        section=t.text("section"),
        name=t.text("name"),
        label=t.text("label"),
        aliases=t.texts("aliases"),
        complexity=t.text("complexity"),
        recommendation=t.text("recommendation"),
        reasoning=t.text("reasoning"),
    )
    t.done()
    return record


def _offload_gpu(t: Table) -> OffloadGpu:
    record = OffloadGpu(
        id=t.text("id"),
        section=t.text("section"),
        name=t.text("name"),
        memory_gb=t.number("memory_gb", above=0),
        warning=t.template("warning", SUPPLIED["offload_gpu.warning"]),
    )
    t.done()
    return record


def _rule(rules: Table, key: str) -> Rule:
    return read_rule(rules, key, SUPPLIED[key], SUPPLIED.get(f"{key}.warning"))


def _rules(rules: Table) -> RuntimeRules:
    fit = rules.table("gpu-fits")
    gpu_fits = GpuFitRule(
        id=fit.text("id"),
        section=fit.text("section"),
        headroom_fraction=fit.number("headroom_fraction", minimum=0, below=1),
        text=fit.template("text", SUPPLIED["gpu-fits"]),
    )
    fit.done()
    record = RuntimeRules(
        gpu_fits=gpu_fits,
        gpu_beyond_guide=_rule(rules, "gpu-beyond-guide"),
        gpu_too_small=_rule(rules, "gpu-too-small"),
        gpu_none=_rule(rules, "gpu-none"),
        gpu_present=_rule(rules, "gpu-present"),
        sensitive=_rule(rules, "sensitive"),
        offline=_rule(rules, "offline"),
        interactive=_rule(rules, "interactive"),
        capacity=_rule(rules, "capacity"),
        offload_too_small=_rule(rules, "offload-too-small"),
        team=_rule(rules, "team"),
        cost=_rule(rules, "cost"),
    )
    for key in ("sensitive", "interactive", "capacity"):
        if getattr(record, key).warning is None:
            raise ValueError(f"{rules.where(key)} needs a warning template")
    rules.done()
    return record


def _arbitration(top: Table) -> tuple[ArbitrationStep, ...]:
    steps = read_arbitration(top, SUPPLIED["arbitration"])
    where = top.where("arbitration")
    ids = [step.id for step in steps]
    known = [*FILTER_STEPS, *sorted(DECISIVE_STEPS), STEP_SIZE_TIERS]
    if sorted(ids) != sorted(known):
        raise ValueError(
            f"{where} must list each of the steps {', '.join(known)} once, got {', '.join(ids)}"
        )
    if tuple(ids[: len(FILTER_STEPS)]) != FILTER_STEPS or ids[-1] != STEP_SIZE_TIERS:
        raise ValueError(
            f"{where} must start with {', '.join(FILTER_STEPS)} (they rule options out) and "
            f"end with {STEP_SIZE_TIERS} (it always decides); got {', '.join(ids)}"
        )
    return steps


def _comparison(t: Table) -> ComparisonRow:
    record = ComparisonRow(
        id=t.text("id"),
        section=t.text("section"),
        category=t.text("category"),
        factor=t.text("factor"),
        local=t.text("local"),
        offload=t.text("offload"),
        winner=t.one_of("winner", ("local", "offload", "none")),
    )
    t.done()
    return record


def _use_case(t: Table) -> UseCase:
    record = UseCase(
        id=t.text("id"),
        section=t.text("section"),
        runtime=t.one_of("runtime", ("local", "offload")),
        name=t.text("name"),
        scenario=t.text("scenario"),
        why=t.text("why"),
        models=t.text("models"),
        example=t.text("example"),
    )
    t.done()
    return record


def _costs(t: Table) -> CostFacts:
    d = t.table("defaults")
    days = d.number("days", above=0, maximum=31)
    defaults = CostDefaults(
        id=d.text("id"),
        section=d.text("section"),
        local_monthly=d.number("local_monthly", minimum=0),
        offload_rate=d.number("offload_rate", minimum=0),
        days=int(days) if days.is_integer() else days,
    )
    d.done()
    total = t.table("hardware_total")
    hardware_total = PriceEstimate(
        id=total.text("id"),
        section=total.text("section"),
        item=total.text("item"),
        approx=total.number("approx", minimum=0),
    )
    total.done()
    v = t.table("breakeven_verdicts")
    verdicts = BreakevenVerdicts(
        section=v.text("section"),
        local=v.text("local"),
        offload=v.text("offload"),
        equal=v.text("equal"),
        mixed=v.text("mixed"),
    )
    v.done()
    options: dict[Hardware, LocalOption] = {}
    for o in t.tables("local_options"):
        option = LocalOption(
            id=o.text("id"),
            section=o.text("section"),
            name=o.one_of("name", HARDWARE),
            label=o.text("label"),
            operating=o.boolean("operating"),
            purchase=o.boolean("purchase"),
        )
        o.done()
        options[option.name] = option
    if sorted(options) != sorted(HARDWARE):
        raise ValueError(f"{t.where('local_options')} must name each of {', '.join(HARDWARE)} once")
    p = t.table("purchase")
    purchase = Purchase(
        id=p.text("id"),
        section=p.text("section"),
        amortize_months=p.whole("amortize_months", minimum=1),
    )
    p.done()
    record = CostFacts(
        defaults=defaults,
        local_options=options,
        purchase=purchase,
        hardware=tuple(_price(e) for e in t.tables("hardware")),
        hardware_total=hardware_total,
        operational=tuple(_price(e) for e in t.tables("operational")),
        pay_per_use=tuple(_price(e) for e in t.tables("pay_per_use")),
        usage_scenarios=tuple(_usage(e) for e in t.tables("usage_scenarios")),
        breakeven_verdicts=verdicts,
        breakeven_rows=tuple(_breakeven_row(e) for e in t.tables("breakeven_rows")),
    )
    t.done()
    return record


def _price(t: Table) -> PriceRange:
    low = t.number("low", minimum=0)
    record = PriceRange(
        id=t.text("id"),
        section=t.text("section"),
        item=t.text("item"),
        low=low,
        high=t.number("high", minimum=low),
        unit=t.optional_text("unit"),
    )
    t.done()
    return record


def _usage(t: Table) -> UsageScenario:
    record = UsageScenario(
        id=t.text("id"),
        section=t.text("section"),
        name=t.text("name"),
        hours_label=t.text("hours_label"),
        hours_per_day=t.number("hours_per_day", minimum=0, maximum=24),
        stated_monthly=t.number("stated_monthly", minimum=0),
    )
    t.done()
    return record


def _breakeven_row(t: Table) -> BreakevenRow:
    if "hours_per_day" in t:
        low = high = t.number("hours_per_day", minimum=0, maximum=24)
    else:
        low = t.number("hours_per_day_low", minimum=0, maximum=24)
        high = t.number("hours_per_day_high", minimum=low, maximum=24)
    record = BreakevenRow(
        id=t.text("id"),
        section=t.text("section"),
        usage_level=t.text("usage_level"),
        team_size=t.whole("team_size", minimum=1),
        hours_per_day_low=low,
        hours_per_day_high=high,
    )
    t.done()
    return record


def _phase(t: Table) -> MigrationPhase:
    record = MigrationPhase(
        id=t.text("id"),
        section=t.text("section"),
        phase=t.whole("phase", minimum=1),
        name=t.text("name"),
        steps=t.texts("steps"),
    )
    t.done()
    return record


def _flow(t: Table) -> FlowStep:
    record = FlowStep(
        id=t.text("id"),
        section=t.text("section"),
        question=t.text("question"),
        source=t.text("from"),
        yes=t.text("yes"),
        no=t.text("no"),
    )
    t.done()
    return record


def _hybrid(t: Table) -> HybridStage:
    record = HybridStage(
        id=t.text("id"), section=t.text("section"), stage=t.text("stage"), use_for=t.text("use_for")
    )
    t.done()
    return record


def _items(t: Table) -> Items:
    record = Items(id=t.text("id"), section=t.text("section"), items=t.texts("items"))
    t.done()
    return record


def _risk(t: Table) -> Risk:
    record = Risk(
        id=t.text("id"),
        section=t.text("section"),
        side=t.one_of("side", ("local", "offload")),
        risk=t.text("risk"),
        detail=t.text("detail"),
    )
    t.done()
    return record


def _audiences(top: Table) -> tuple[Audience, ...]:
    audiences = []
    for t in top.tables("audiences"):
        minimum = t.whole("min_team", minimum=1)
        audiences.append(
            Audience(
                id=t.text("id"),
                section=t.text("section"),
                audience=t.text("audience"),
                min_team=minimum,
                max_team=t.optional_whole("max_team", minimum=minimum),
                items=t.texts("items"),
            )
        )
        t.done()
    # Every team size from 1 up must find exactly one audience.
    expected = 1
    for position, entry in enumerate(audiences):
        if entry.min_team != expected:
            raise ValueError(
                f"{top.where('audiences')}[{entry.id}].min_team must be {expected} "
                f"(audiences in order, no gap or overlap), got {entry.min_team}"
            )
        if entry.max_team is None:
            if position != len(audiences) - 1:
                raise ValueError(
                    f"{top.where('audiences')}[{entry.id}] has no max_team but is not last"
                )
            return tuple(audiences)
        expected = entry.max_team + 1
    raise ValueError(f"{top.where('audiences')}: the last audience must have no max_team")


def _check_links(guide: OffloadGuide, path: str) -> None:
    """Ids unique, workload names unique, every workload in a known complexity class."""
    entries: list[Entry] = [
        *guide.size_tiers,
        *guide.complexity,
        *guide.workloads,
        guide.offload_gpu,
        guide.rules.gpu_fits,
        guide.rules.gpu_beyond_guide,
        guide.rules.gpu_too_small,
        guide.rules.gpu_none,
        guide.rules.gpu_present,
        guide.rules.sensitive,
        guide.rules.offline,
        guide.rules.interactive,
        guide.rules.capacity,
        guide.rules.offload_too_small,
        *guide.arbitration,
        guide.rules.team,
        guide.rules.cost,
        *guide.comparison,
        *guide.use_cases,
        guide.costs.defaults,
        *guide.costs.local_options.values(),
        guide.costs.purchase,
        *guide.costs.hardware,
        guide.costs.hardware_total,
        *guide.costs.operational,
        *guide.costs.pay_per_use,
        *guide.costs.usage_scenarios,
        *guide.costs.breakeven_rows,
        *guide.migration_phases,
        *guide.migration_flow,
        *guide.hybrid,
        guide.hybrid_benefits,
        *guide.risks,
        *guide.audiences,
    ]
    unique((e.id for e in entries), "id", path)
    prices = {p.id for p in guide.costs.pay_per_use}
    for wanted in (OFFLOAD_RATE_ID, STORAGE_ID):
        if wanted not in prices:
            raise ValueError(f"{path}.costs.pay_per_use needs the entry with id {wanted!r}")
    classes = {c.name for c in guide.complexity}
    unique((c.name for c in guide.complexity), "complexity name", f"{path}.complexity")
    names = [n for w in guide.workloads for n in (w.name, *w.aliases)]
    names += [c for c in classes if c != DEPENDS]
    unique(names, "workload name or alias", f"{path}.workloads")
    for workload in guide.workloads:
        if workload.complexity not in classes:
            raise ValueError(
                f"{path}.workloads[{workload.id}].complexity must be one of "
                f"{', '.join(sorted(classes))}, got {workload.complexity!r}"
            )
