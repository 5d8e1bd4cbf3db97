"""The facts of "AI Lab Platform - Deployment Decision Guide" as typed, checked records.

:func:`build` turns the merged ``compose_vs_k3s.toml`` into a :class:`DeploymentGuide`,
refusing mistyped values, thresholds below 1, repeated ids, unknown platforms and
template placeholders the code does not supply, each error naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labadvisor.records import Entry, Rule, Table, read_rule, unique
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
}


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
    migration_triggers: tuple[Category, ...]
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

    def source(self, entry: Entry) -> str:
        return f"{self.guide.file} › {entry.section}"

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
        migration_triggers=tuple(_category(t) for t in top.tables("migration_triggers")),
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
    )
    rules.done()
    return record


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
