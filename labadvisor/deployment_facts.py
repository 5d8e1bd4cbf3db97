"""The facts of "AI Lab Platform - Deployment Decision Guide" as typed, checked records.

:func:`build` turns the merged ``compose_vs_k3s.toml`` into a :class:`DeploymentGuide`,
refusing mistyped values, thresholds below 1, repeated ids, unknown platforms and
template placeholders the code does not supply, each error naming the setting.
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

PlatformName = Literal["docker-compose", "k3s"]
PLATFORMS: tuple[PlatformName, ...] = ("docker-compose", "k3s")
ROLLBACK_TO_COMPOSE = "rollback.k3s-to-docker"
ROLLBACK_TO_PREVIOUS = "rollback.docker-previous"
OPERATIONAL_COST = "cost.operational"

# The values the code passes to each rule's templates (name -> an example of its type).
_OPS = {"ops_k3s": "4-8 hours/week", "ops_compose": "2-4 hours/week"}
SUPPLIED: Mapping[str, Mapping[str, Any]] = {
    "users": {"users": 10},
    "nodes": {"nodes": 2},
    "high-availability": {},
    "gpu-sharing": {"mode": "mig"},
    "no-experience": _OPS,
    "no-experience.warning": _OPS,
    "experience": {},
    "start-simple": {},
    "capacity.warning": {"users": 60},
    "migrate": {"total": "3-4 hours"},
    "rollback": {},
    "concurrency": {"concurrency": "60 users online at once", "max_users": 50},
    "triggers": {"triggers": "GPU scheduling conflicts"},
    "preference": {"platform": "Docker Compose"},
    "stay": {"users": 20, "k3s_from_users": 50},
    "not-working": {},
    "not-working.warning": {"needs": "high availability"},
    "compose-not-working.warning": {"commands": "docker-compose down; ..."},
    "growth": {
        "expected": 120,
        "first": "Memory/CPU contention",
        "month": 3,
        "plan_month": 2,
        "total": "3-4 hours",
    },
    "ha-nodes.warning": {"node_count": "1 node"},
    "mig-gpu.warning": {"mig_gpus": "A100, H100", "gpu": "the RTX 4090"},
    "mig-unchecked.warning": {"mig_gpus": "A100, H100", "why": "NVML was not found"},
    "time-slicing-one-gpu.warning": {},
    "platform-costs": {"compose_cost": "Docker Compose $508-942", "k3s_cost": "K3s $942-1,808"},
    "arbitration": {"detail": "high availability"},
}

# The steps of the deployment arbitration, by id; the last always applies.
STEP_NEEDS_K3S = "deploy-step.needs-k3s"
STEP_CAPACITY = "deploy-step.capacity"
STEP_ASKED = "deploy-step.asked"
STEP_NOT_WORKING = "deploy-step.not-working"
STEP_WHERE_YOU_ARE = "deploy-step.where-you-are"
STEP_START_SIMPLE = "deploy-step.start-simple"
STEPS = (
    STEP_NEEDS_K3S,
    STEP_CAPACITY,
    STEP_ASKED,
    STEP_NOT_WORKING,
    STEP_WHERE_YOU_ARE,
    STEP_START_SIMPLE,
)


@dataclass(frozen=True)
class GuideInfo:
    id: str
    file: str
    title: str


@dataclass(frozen=True)
class Platform:
    name: PlatformName
    label: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class UsersRule(Entry):
    k3s_from_users: int
    compose_text: Template
    k3s_text: Template


@dataclass(frozen=True)
class NodesRule(Entry):
    max_compose_nodes: int
    text: Template


@dataclass(frozen=True)
class GpuSharingRule(Entry):
    modes: tuple[str, ...]
    aliases: Mapping[str, str]
    text: Template


@dataclass(frozen=True)
class CapacityRule(Entry):
    users: int  # the concurrent users the guide states or measured
    warning: Template


@dataclass(frozen=True)
class ConcurrencyRule(Entry):
    over_text: Template
    within_text: Template


@dataclass(frozen=True)
class StayRule(Entry):
    k3s_text: Template
    compose_text: Template


@dataclass(frozen=True)
class WarningRule(Entry):
    warning: Template


@dataclass(frozen=True)
class DeploymentRules:
    users: UsersRule
    nodes: NodesRule
    high_availability: Rule
    gpu_sharing: GpuSharingRule
    no_experience: Rule
    experience: Rule
    start_simple: Rule
    compose_capacity: CapacityRule
    k3s_capacity: CapacityRule
    migrate: Rule
    rollback: Rule
    concurrency: ConcurrencyRule
    triggers: Rule
    preference: Rule
    stay: StayRule
    not_working: Rule
    compose_not_working: WarningRule
    growth: Rule
    ha_nodes: WarningRule
    ha_min_servers: int
    mig_gpu: WarningRule
    mig_unchecked: WarningRule
    time_slicing_one_gpu: WarningRule
    platform_costs: Rule


@dataclass(frozen=True)
class PlatformRow(Entry):
    """One row of a two-column table (Docker Compose vs K3s): ``topic`` is its first cell."""

    topic: str
    docker_compose: str
    k3s: str


@dataclass(frozen=True)
class StartWith(Entry):
    platform: PlatformName
    items: tuple[str, ...]


@dataclass(frozen=True)
class Category(Entry):
    category: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Trigger:
    id: str
    label: str


@dataclass(frozen=True)
class TriggerCategory(Entry):
    category: str
    triggers: tuple[Trigger, ...]


@dataclass(frozen=True)
class MigCapable(Entry):
    gpus: tuple[str, ...]


@dataclass(frozen=True)
class Operations(Entry):
    """The guide's operations hours per week for each platform."""

    compose_hours: tuple[float, float]
    k3s_hours: tuple[float, float]
    weeks_per_month: float

    def hours(self, platform: PlatformName) -> tuple[float, float]:
        return self.k3s_hours if platform == "k3s" else self.compose_hours


@dataclass(frozen=True)
class OperationsDefaults(Entry):
    hourly_rate: float
    server_monthly: float


@dataclass(frozen=True)
class GrowthModel(Entry):
    first_trigger: str
    gpu_contention_trigger: str
    gpu_contention_share: float
    plan_lead_months: int


@dataclass(frozen=True)
class LeaveK3s(Entry):
    steps: tuple[RollbackStep, ...]
    rollback: tuple[RollbackStep, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Note(Entry):
    text: str


@dataclass(frozen=True)
class MigrationStepFact(Entry):
    order: int
    title: str
    min_minutes: int
    max_minutes: int
    details: tuple[str, ...]


@dataclass(frozen=True)
class MigrationTotal(Entry):
    min_hours: float
    max_hours: float


@dataclass(frozen=True)
class RollbackStep:
    title: str
    command: str


@dataclass(frozen=True)
class RollbackPath(Entry):
    direction: str
    steps: tuple[RollbackStep, ...]


@dataclass(frozen=True)
class Trial(Entry):
    min_weeks: int
    max_weeks: int
    steps: tuple[str, ...]


@dataclass(frozen=True)
class ParallelTesting(Entry):
    docker_ports: tuple[int, ...]
    k3s_ports: tuple[int, ...]
    command: str


@dataclass(frozen=True)
class DeploymentUseCase(Entry):
    name: str
    users_label: str
    min_users: int
    max_users: int | None
    platform: PlatformName
    recommendation: str
    points: tuple[str, ...]

    def contains(self, users: int) -> bool:
        return self.min_users <= users and (self.max_users is None or users <= self.max_users)


@dataclass(frozen=True)
class ChecklistItem(Entry):
    item: str


@dataclass(frozen=True)
class Summary(Entry):
    default: PlatformName
    text: str


@dataclass(frozen=True)
class DeploymentGuide:
    guide: GuideInfo
    platforms: Mapping[PlatformName, Platform]
    rules: DeploymentRules
    criteria: tuple[PlatformRow, ...]
    start_with: tuple[StartWith, ...]
    migration_triggers: tuple[TriggerCategory, ...]
    transfers: tuple[Category, ...]
    migration_steps: tuple[MigrationStepFact, ...]
    migration_total: MigrationTotal
    rollback: Mapping[str, RollbackPath]  # by id
    trial: Trial
    parallel_testing: ParallelTesting
    performance: tuple[PlatformRow, ...]
    costs: tuple[PlatformRow, ...]
    use_cases: tuple[DeploymentUseCase, ...]
    checklist: tuple[ChecklistItem, ...]
    summary: Summary
    mig: MigCapable
    operations: Operations
    operations_defaults: OperationsDefaults
    growth: GrowthModel
    leave_k3s: LeaveK3s
    rollback_note: Note
    arbitration: tuple[ArbitrationStep, ...]

    def source(self, entry: Entry) -> str:
        """Where an entry's fact comes from: a guide section, or labadvisor's own source."""
        if entry.section.startswith("labadvisor"):
            return entry.section
        return f"{self.guide.file} › {entry.section}"

    @property
    def triggers(self) -> dict[str, Trigger]:
        """Every migration trigger by id, in the guide's order."""
        return {t.id: t for c in self.migration_triggers for t in c.triggers}

    def step(self, step_id: str) -> ArbitrationStep:
        # Every step is checked to be present when loaded.
        return next(step for step in self.arbitration if step.id == step_id)

    def cost(self, entry_id: str) -> PlatformRow:
        # The ids the code asks for are checked to exist when loaded.
        return next(row for row in self.costs if row.id == entry_id)


def build(raw: Mapping[str, Any], path: str) -> DeploymentGuide:
    """Check the merged data set ``raw`` (named ``path`` in errors) and build the guide."""
    top = Table(raw, path)
    g = top.table("guide")
    guide = GuideInfo(g.text("id"), g.text("file"), g.text("title"))
    g.done()
    record = DeploymentGuide(
        guide=guide,
        platforms=_platforms(top),
        rules=_rules(top.table("rules")),
        criteria=tuple(_row(t, "criterion") for t in top.tables("criteria")),
        start_with=tuple(_start_with(t) for t in top.tables("start_with")),
        migration_triggers=tuple(_triggers(t) for t in top.tables("migration_triggers")),
        transfers=tuple(_category(t) for t in top.tables("transfers")),
        migration_steps=tuple(
            sorted((_step(t) for t in top.tables("migration_steps")), key=lambda s: s.order)
        ),
        migration_total=_total(top.table("migration_total")),
        rollback={path.id: path for path in map(_rollback, top.tables("rollback"))},
        trial=_trial(top.table("trial")),
        parallel_testing=_parallel(top.table("parallel_testing")),
        performance=tuple(_row(t, "metric") for t in top.tables("performance")),
        costs=tuple(_row(t, "aspect") for t in top.tables("costs")),
        use_cases=tuple(_use_case(t) for t in top.tables("use_cases")),
        checklist=tuple(_checklist(t) for t in top.tables("checklist")),
        summary=_summary(top.table("summary")),
        mig=_mig(top.table("mig")),
        operations=_operations(top.table("operations")),
        operations_defaults=_operations_defaults(top.table("operations_defaults")),
        growth=_growth(top.table("growth")),
        leave_k3s=_leave_k3s(top.table("leave_k3s")),
        rollback_note=_note(top.table("rollback_note")),
        arbitration=_arbitration(top),
    )
    top.done()
    _check_links(record, path)
    return record


def _platforms(top: Table) -> dict[PlatformName, Platform]:
    tables = top.named_tables("platforms")
    if set(tables) != set(PLATFORMS):
        raise ValueError(f"{top.where('platforms')} must name exactly {', '.join(PLATFORMS)}")
    out: dict[PlatformName, Platform] = {}
    for name in PLATFORMS:
        t = tables[name]
        out[name] = Platform(name, t.text("label"), t.texts("aliases"))
        t.done()
    return out


def _rules(rules: Table) -> DeploymentRules:
    u = rules.table("users")
    users = UsersRule(
        id=u.text("id"),
        section=u.text("section"),
        k3s_from_users=u.whole("k3s_from_users", minimum=1),
        compose_text=u.template("compose_text", SUPPLIED["users"]),
        k3s_text=u.template("k3s_text", SUPPLIED["users"]),
    )
    u.done()
    n = rules.table("nodes")
    nodes = NodesRule(
        id=n.text("id"),
        section=n.text("section"),
        max_compose_nodes=n.whole("max_compose_nodes", minimum=1),
        text=n.template("text", SUPPLIED["nodes"]),
    )
    n.done()
    s = rules.table("gpu-sharing")
    modes = s.texts("modes")
    aliases = s.string_map("aliases")
    for alias, mode in aliases.items():
        if mode not in modes:
            raise ValueError(
                f"{s.where('aliases')}.{alias} must name one of the modes "
                f"({', '.join(modes)}), got {mode!r}"
            )
    sharing = GpuSharingRule(
        id=s.text("id"),
        section=s.text("section"),
        modes=modes,
        aliases=aliases,
        text=s.template("text", SUPPLIED["gpu-sharing"]),
    )
    s.done()
    c = rules.table("concurrency")
    concurrency = ConcurrencyRule(
        id=c.text("id"),
        section=c.text("section"),
        over_text=c.template("over_text", SUPPLIED["concurrency"]),
        within_text=c.template("within_text", SUPPLIED["concurrency"]),
    )
    c.done()
    st = rules.table("stay")
    stay = StayRule(
        id=st.text("id"),
        section=st.text("section"),
        k3s_text=st.template("k3s_text", SUPPLIED["stay"]),
        compose_text=st.template("compose_text", SUPPLIED["stay"]),
    )
    st.done()
    h = rules.table("ha-nodes")
    min_servers = h.whole("min_servers", minimum=1)
    ha_nodes = _warning_rule(rules, "ha-nodes", h)
    record = DeploymentRules(
        users=users,
        nodes=nodes,
        high_availability=read_rule(rules, "high-availability", SUPPLIED["high-availability"]),
        gpu_sharing=sharing,
        no_experience=read_rule(
            rules, "no-experience", SUPPLIED["no-experience"], SUPPLIED["no-experience.warning"]
        ),
        experience=read_rule(rules, "experience", SUPPLIED["experience"]),
        start_simple=read_rule(rules, "start-simple", SUPPLIED["start-simple"]),
        compose_capacity=_capacity(rules.table("compose-capacity"), "max_users"),
        k3s_capacity=_capacity(rules.table("k3s-capacity"), "measured_users"),
        migrate=read_rule(rules, "migrate", SUPPLIED["migrate"]),
        rollback=read_rule(rules, "rollback", SUPPLIED["rollback"]),
        concurrency=concurrency,
        triggers=read_rule(rules, "triggers", SUPPLIED["triggers"]),
        preference=read_rule(rules, "preference", SUPPLIED["preference"]),
        stay=stay,
        not_working=read_rule(
            rules, "not-working", SUPPLIED["not-working"], SUPPLIED["not-working.warning"]
        ),
        compose_not_working=_warning_rule(rules, "compose-not-working"),
        growth=read_rule(rules, "growth", SUPPLIED["growth"]),
        ha_nodes=ha_nodes,
        ha_min_servers=min_servers,
        mig_gpu=_warning_rule(rules, "mig-gpu"),
        mig_unchecked=_warning_rule(rules, "mig-unchecked"),
        time_slicing_one_gpu=_warning_rule(rules, "time-slicing-one-gpu"),
        platform_costs=read_rule(rules, "platform-costs", SUPPLIED["platform-costs"]),
    )
    rules.done()
    return record


def _warning_rule(rules: Table, key: str, t: Table | None = None) -> WarningRule:
    t = t or rules.table(key)
    record = WarningRule(
        id=t.text("id"),
        section=t.text("section"),
        warning=t.template("warning", SUPPLIED[f"{key}.warning"]),
    )
    t.done()
    return record


def _triggers(t: Table) -> TriggerCategory:
    triggers = []
    for entry in t.tables("triggers"):
        triggers.append(Trigger(entry.text("name"), entry.text("label")))
        entry.done()
    record = TriggerCategory(
        id=t.text("id"),
        section=t.text("section"),
        category=t.text("category"),
        triggers=tuple(triggers),
    )
    t.done()
    return record


def _mig(t: Table) -> MigCapable:
    record = MigCapable(id=t.text("id"), section=t.text("section"), gpus=t.texts("gpus"))
    t.done()
    return record


def _operations(t: Table) -> Operations:
    def band(platform: str) -> tuple[float, float]:
        low = t.number(f"{platform}_min_hours_per_week", minimum=0)
        return low, t.number(f"{platform}_max_hours_per_week", minimum=low)

    record = Operations(
        id=t.text("id"),
        section=t.text("section"),
        compose_hours=band("compose"),
        k3s_hours=band("k3s"),
        weeks_per_month=t.number("weeks_per_month", above=0),
    )
    t.done()
    return record


def _operations_defaults(t: Table) -> OperationsDefaults:
    record = OperationsDefaults(
        id=t.text("id"),
        section=t.text("section"),
        hourly_rate=t.number("hourly_rate", minimum=0),
        server_monthly=t.number("server_monthly", minimum=0),
    )
    t.done()
    return record


def _growth(t: Table) -> GrowthModel:
    record = GrowthModel(
        id=t.text("id"),
        section=t.text("section"),
        first_trigger=t.text("first_trigger"),
        gpu_contention_trigger=t.text("gpu_contention_trigger"),
        gpu_contention_share=t.number("gpu_contention_share", above=0, maximum=1),
        plan_lead_months=t.whole("plan_lead_months"),
    )
    t.done()
    return record


def _steps(t: Table, key: str) -> tuple[RollbackStep, ...]:
    steps = []
    for step in t.tables(key):
        steps.append(RollbackStep(step.text("title"), step.text("command")))
        step.done()
    return tuple(steps)


def _leave_k3s(t: Table) -> LeaveK3s:
    record = LeaveK3s(
        id=t.text("id"),
        section=t.text("section"),
        steps=_steps(t, "steps"),
        rollback=_steps(t, "rollback"),
        notes=t.texts("notes"),
    )
    t.done()
    return record


def _note(t: Table) -> Note:
    record = Note(id=t.text("id"), section=t.text("section"), text=t.text("text"))
    t.done()
    return record


def _arbitration(top: Table) -> tuple[ArbitrationStep, ...]:
    steps = read_arbitration(top, SUPPLIED["arbitration"])
    ids = [step.id for step in steps]
    if sorted(ids) != sorted(STEPS) or ids[-1] != STEP_START_SIMPLE:
        raise ValueError(
            f"{top.where('arbitration')} must list each of the steps {', '.join(STEPS)} once, "
            f"ending with {STEP_START_SIMPLE} (it always applies); got {', '.join(ids)}"
        )
    return steps


def _capacity(t: Table, key: str) -> CapacityRule:
    record = CapacityRule(
        id=t.text("id"),
        section=t.text("section"),
        users=t.whole(key, minimum=1),
        warning=t.template("warning", SUPPLIED["capacity.warning"]),
    )
    t.done()
    return record


def _row(t: Table, topic: str) -> PlatformRow:
    record = PlatformRow(
        id=t.text("id"),
        section=t.text("section"),
        topic=t.text(topic),
        docker_compose=t.text("docker_compose"),
        k3s=t.text("k3s"),
    )
    t.done()
    return record


def _start_with(t: Table) -> StartWith:
    record = StartWith(
        id=t.text("id"),
        section=t.text("section"),
        platform=t.one_of("platform", PLATFORMS),
        items=t.texts("items"),
    )
    t.done()
    return record


def _category(t: Table) -> Category:
    record = Category(
        id=t.text("id"),
        section=t.text("section"),
        category=t.text("category"),
        items=t.texts("items"),
    )
    t.done()
    return record


def _step(t: Table) -> MigrationStepFact:
    low = t.whole("min_minutes")
    record = MigrationStepFact(
        id=t.text("id"),
        section=t.text("section"),
        order=t.whole("order", minimum=1),
        title=t.text("title"),
        min_minutes=low,
        max_minutes=t.whole("max_minutes", minimum=low),
        details=t.texts("details"),
    )
    t.done()
    return record


def _total(t: Table) -> MigrationTotal:
    low = t.number("min_hours", minimum=0)
    record = MigrationTotal(
        id=t.text("id"),
        section=t.text("section"),
        min_hours=low,
        max_hours=t.number("max_hours", minimum=low),
    )
    t.done()
    return record


def _rollback(t: Table) -> RollbackPath:
    steps = []
    for step in t.tables("steps"):
        steps.append(RollbackStep(step.text("title"), step.text("command")))
        step.done()
    record = RollbackPath(
        id=t.text("id"),
        section=t.text("section"),
        direction=t.text("direction"),
        steps=tuple(steps),
    )
    t.done()
    return record


def _trial(t: Table) -> Trial:
    low = t.whole("min_weeks")
    record = Trial(
        id=t.text("id"),
        section=t.text("section"),
        min_weeks=low,
        max_weeks=t.whole("max_weeks", minimum=low),
        steps=t.texts("steps"),
    )
    t.done()
    return record


def _parallel(t: Table) -> ParallelTesting:
    record = ParallelTesting(
        id=t.text("id"),
        section=t.text("section"),
        docker_ports=t.wholes("docker_ports", minimum=1),
        k3s_ports=t.wholes("k3s_ports", minimum=1),
        command=t.text("command"),
    )
    t.done()
    return record


def _use_case(t: Table) -> DeploymentUseCase:
    low = t.optional_whole("min_users", minimum=1) or 1
    record = DeploymentUseCase(
        id=t.text("id"),
        section=t.text("section"),
        name=t.text("name"),
        users_label=t.text("users_label"),
        min_users=low,
        max_users=t.optional_whole("max_users", minimum=low),
        platform=t.one_of("platform", PLATFORMS),
        recommendation=t.text("recommendation"),
        points=t.texts("points"),
    )
    t.done()
    return record


def _checklist(t: Table) -> ChecklistItem:
    record = ChecklistItem(id=t.text("id"), section=t.text("section"), item=t.text("item"))
    t.done()
    return record


def _summary(t: Table) -> Summary:
    record = Summary(
        id=t.text("id"),
        section=t.text("section"),
        default=t.one_of("default", PLATFORMS),
        text=t.text("text"),
    )
    t.done()
    return record


def _check_links(guide: DeploymentGuide, path: str) -> None:
    rules = guide.rules
    entries: list[Entry] = [
        rules.users,
        rules.nodes,
        rules.high_availability,
        rules.gpu_sharing,
        rules.no_experience,
        rules.experience,
        rules.start_simple,
        rules.compose_capacity,
        rules.k3s_capacity,
        rules.migrate,
        rules.rollback,
        rules.concurrency,
        rules.triggers,
        rules.preference,
        rules.stay,
        rules.not_working,
        rules.compose_not_working,
        rules.growth,
        rules.ha_nodes,
        rules.mig_gpu,
        rules.mig_unchecked,
        rules.time_slicing_one_gpu,
        rules.platform_costs,
        guide.mig,
        guide.operations,
        guide.operations_defaults,
        guide.growth,
        guide.leave_k3s,
        guide.rollback_note,
        *guide.arbitration,
        *guide.criteria,
        *guide.start_with,
        *guide.migration_triggers,
        *guide.transfers,
        *guide.migration_steps,
        guide.migration_total,
        *guide.rollback.values(),
        guide.trial,
        guide.parallel_testing,
        *guide.performance,
        *guide.costs,
        *guide.use_cases,
        *guide.checklist,
        guide.summary,
    ]
    unique((e.id for e in entries), "id", path)
    unique(
        (t for c in guide.migration_triggers for t in (x.id for x in c.triggers)),
        "trigger id",
        f"{path}.migration_triggers",
    )
    for key, trigger in (
        ("first_trigger", guide.growth.first_trigger),
        ("gpu_contention_trigger", guide.growth.gpu_contention_trigger),
    ):
        if trigger not in guide.triggers:
            raise ValueError(
                f"{path}.growth.{key} must name a migration trigger "
                f"({', '.join(guide.triggers)}), got {trigger!r}"
            )
    compose, k3s = ({p.name, *p.aliases} for p in guide.platforms.values())
    if compose & k3s:
        raise ValueError(
            f"{path}.platforms: {', '.join(sorted(compose & k3s))} cannot name both platforms"
        )
    for wanted, where in (
        (ROLLBACK_TO_COMPOSE, "rollback"),
        (ROLLBACK_TO_PREVIOUS, "rollback"),
        (OPERATIONAL_COST, "costs"),
    ):
        ids = guide.rollback if where == "rollback" else {row.id for row in guide.costs}
        if wanted not in ids:
            raise ValueError(f"{path}.{where} needs the entry with id {wanted!r}")
