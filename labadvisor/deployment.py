"""Deployment advice for a multi-user AI lab: Docker Compose or K3s, and how to migrate."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

from labadvisor.deployment_facts import (
    OPERATIONAL_COST,
    PLATFORMS,
    ROLLBACK_TO_COMPOSE,
    ROLLBACK_TO_PREVIOUS,
    DeploymentUseCase,
    PlatformName,
)
from labadvisor.explain import Advice, Reason, fire, settle
from labadvisor.guides import deployment_guide
from labadvisor.units import normalize_name


@dataclass(frozen=True)
class MigrationStep:
    order: int
    title: str
    min_minutes: int | None
    max_minutes: int | None
    details: list[str]

    @property
    def duration(self) -> str:
        if self.min_minutes is None or self.max_minutes is None:
            return "-"
        return _minutes_text(self.min_minutes, self.max_minutes)


@dataclass
class MigrationPlan:
    """How to get from the platform in use to the advised one."""

    source: str
    target: str
    steps: list[MigrationStep]
    stated_total_hours: tuple[float, float] | None
    checklist: list[dict[str, str]] = field(default_factory=list)
    rollback: list[dict[str, str]] = field(default_factory=list)
    transfers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def steps_total_minutes(self) -> tuple[int, int] | None:
        if any(s.min_minutes is None or s.max_minutes is None for s in self.steps):
            return None
        low = sum(s.min_minutes or 0 for s in self.steps)
        return low, sum(s.max_minutes or 0 for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "steps": [asdict(s) | {"duration": s.duration} for s in self.steps],
            "stated_total_hours": list(self.stated_total_hours)
            if self.stated_total_hours
            else None,
            "steps_total_minutes": list(self.steps_total_minutes or []) or None,
            "checklist": [dict(c) for c in self.checklist],
            "rollback": [dict(r) for r in self.rollback],
            "transfers": {k: list(v) for k, v in self.transfers.items()},
        }

    def text_lines(self) -> list[str]:
        lines = [f"Migration {self.source} → {self.target}:"]
        for step in self.steps:
            lines.append(f"  {step.order}. {step.title} ({step.duration})")
            lines += [f"       {d}" for d in step.details]
        if self.stated_total_hours:
            low, high = self.stated_total_hours
            lines.append(f"  Total (guide): {low:g}-{high:g} hours")
        if self.checklist:
            lines.append("  Checklist:")
            lines += [f"    [ ] {c['item']}" for c in self.checklist]
        if self.rollback:
            lines.append("  Rollback:")
            lines += [f"    {r['title']}: {r['command']}" for r in self.rollback]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.text_lines())

    def _repr_html_(self) -> str:
        esc = html.escape
        steps = "".join(
            f"<tr><td>{s.order}</td><td>{esc(s.title)}</td><td>{esc(s.duration)}</td>"
            f"<td>{esc('; '.join(s.details))}</td></tr>"
            for s in self.steps
        )
        checklist = "".join(f"<li>☐ {esc(c['item'])}</li>" for c in self.checklist)
        rollback = "".join(
            f"<li>{esc(r['title'])}: <code>{esc(r['command'])}</code></li>" for r in self.rollback
        )
        total = ""
        if self.stated_total_hours:
            low, high = self.stated_total_hours
            total = f"<p>Total (guide): {low:g}-{high:g} h</p>"
        return (
            f"<div><b>Migration {esc(self.source)} → {esc(self.target)}</b>"
            f"<table><tr><th>#</th><th>Step</th><th>Time</th><th>Details</th></tr>{steps}</table>"
            f"{total}<b>Checklist</b><ul style='list-style:none'>{checklist}</ul>"
            f"<b>Rollback</b><ul>{rollback}</ul></div>"
        )


@dataclass
class DeploymentAdvice(Advice):
    users: int = 0
    nodes: int = 1
    migration: MigrationPlan | None = None
    use_cases: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)

    title = "Deployment advice"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            users=self.users,
            nodes=self.nodes,
            use_cases=list(self.use_cases),
            migration=self.migration.to_dict() if self.migration else None,
            inputs=dict(self.inputs),
        )
        return out

    def _details_text(self) -> list[str]:
        return self.migration.text_lines() if self.migration else []

    def _details_html(self) -> str:
        return self.migration._repr_html_() if self.migration else ""


def advise_deployment(
    users: int,
    *,
    nodes: int = 1,
    high_availability: bool = False,
    gpu_sharing: str | None = None,
    kubernetes_experience: bool | None = None,
    current: str | None = None,
) -> DeploymentAdvice:
    """Docker Compose or K3s for a lab of ``users`` people, and why.

    ``gpu_sharing`` is None, "mig" or "time-slicing"; ``current`` is the platform in use
    ("docker-compose" or "k3s"), which adds a migration plan when the advice differs.
    """
    guide = deployment_guide()
    rules = guide.rules
    users = _whole_number(users, "users")
    nodes = _whole_number(nodes, "nodes")
    if not isinstance(high_availability, bool):
        raise ValueError(f"high_availability must be True or False, got {high_availability!r}")
    if kubernetes_experience is not None and not isinstance(kubernetes_experience, bool):
        raise ValueError(
            f"kubernetes_experience must be True, False or None, got {kubernetes_experience!r}"
        )
    sharing = resolve_gpu_sharing(gpu_sharing)
    current_platform = None if current is None else resolve_platform(current, "current")

    warnings: list[str] = []
    users_rule = rules.users
    choice: PlatformName = "k3s" if users >= users_rule.k3s_from_users else "docker-compose"
    text = users_rule.k3s_text if choice == "k3s" else users_rule.compose_text
    reasons = [fire(users_rule, guide.source(users_rule), text, points_to=choice, users=users)]
    if nodes > rules.nodes.max_compose_nodes:
        choice = "k3s"
        reasons.append(
            fire(
                rules.nodes,
                guide.source(rules.nodes),
                rules.nodes.text,
                points_to="k3s",
                nodes=nodes,
            )
        )
    if high_availability:
        choice = "k3s"
        rule = rules.high_availability
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="k3s"))
    if sharing:
        choice = "k3s"
        sharing_rule = rules.gpu_sharing
        reasons.append(
            fire(
                sharing_rule,
                guide.source(sharing_rule),
                sharing_rule.text,
                points_to="k3s",
                mode=sharing,
            )
        )

    operations = guide.cost(OPERATIONAL_COST)
    ops: dict[str, Any] = {"ops_k3s": operations.k3s, "ops_compose": operations.docker_compose}
    no_experience = rules.no_experience
    if choice == "k3s" and kubernetes_experience is False and no_experience.warning is not None:
        warnings.append(no_experience.warning.render(**ops))
    if choice == "k3s" and kubernetes_experience is not True:
        reasons.append(fire(no_experience, guide.source(no_experience), no_experience.text, **ops))
    if choice == "docker-compose":
        if kubernetes_experience:
            rule = rules.experience
            reasons.append(fire(rule, guide.source(rule), rule.text))
        rule = rules.start_simple
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="docker-compose"))
        if users > rules.compose_capacity.users:
            warnings.append(rules.compose_capacity.warning.render(users=users))
    elif users > rules.k3s_capacity.users:
        warnings.append(rules.k3s_capacity.warning.render(users=users))

    matching = matching_use_cases(users)
    for case in matching:
        reasons.append(
            Reason(
                rule=case.id,
                text=f"{case.name} ({case.users_label}): {case.recommendation} — "
                + "; ".join(case.points)
                + ".",
                source=guide.source(case),
            )
        )

    migration = None
    if current_platform and current_platform != choice:
        migration = migration_plan(current_platform, choice)
        if choice == "k3s":
            low, high = guide.migration_total.min_hours, guide.migration_total.max_hours
            rule = rules.migrate
            reasons.append(
                fire(
                    rule,
                    guide.source(rule),
                    rule.text,
                    points_to="k3s",
                    total=f"{low:g}-{high:g} hours",
                )
            )
        else:
            rule = rules.rollback
            reasons.append(fire(rule, guide.source(rule), rule.text, points_to="docker-compose"))

    return DeploymentAdvice(
        choice=choice,
        choice_label=guide.platforms[choice].label,
        reasons=settle(reasons, choice),
        warnings=warnings,
        users=users,
        nodes=nodes,
        migration=migration,
        use_cases=[c.id for c in matching],
        inputs={
            "users": users,
            "nodes": nodes,
            "high_availability": high_availability,
            "gpu_sharing": sharing,
            "kubernetes_experience": kubernetes_experience,
            "current": current_platform,
        },
    )


def migration_plan(source: str, target: str) -> MigrationPlan:
    """The guide's plan from one platform to the other."""
    guide = deployment_guide()
    source = resolve_platform(source, "source")
    target = resolve_platform(target, "target")
    if source == target:
        raise ValueError(f"source and target are both {source!r}; nothing to migrate")
    rollback_to_compose = guide.rollback[ROLLBACK_TO_COMPOSE].steps
    transfers = {t.category: list(t.items) for t in guide.transfers}
    if target == "k3s":
        total = guide.migration_total
        return MigrationPlan(
            source=source,
            target=target,
            steps=[
                MigrationStep(s.order, s.title, s.min_minutes, s.max_minutes, list(s.details))
                for s in guide.migration_steps
            ],
            stated_total_hours=(total.min_hours, total.max_hours),
            checklist=[{"id": c.id, "item": c.item} for c in guide.checklist],
            rollback=[{"title": s.title, "command": s.command} for s in rollback_to_compose],
            transfers=transfers,
        )
    # Going back to Docker Compose is the guide's K3s → Docker rollback.
    return MigrationPlan(
        source=source,
        target=target,
        steps=[
            MigrationStep(i, s.title, None, None, [s.command])
            for i, s in enumerate(rollback_to_compose, 1)
        ],
        stated_total_hours=None,
        checklist=[],
        rollback=[
            {"title": s.title, "command": s.command}
            for s in guide.rollback[ROLLBACK_TO_PREVIOUS].steps
        ],
        transfers=transfers,
    )


def matching_use_cases(users: int) -> list[DeploymentUseCase]:
    return [case for case in deployment_guide().use_cases if case.contains(users)]


def resolve_platform(name: object, what: str = "platform") -> PlatformName:
    platforms = deployment_guide().platforms
    if isinstance(name, str):
        key = normalize_name(name)
        for platform in PLATFORMS:
            if key == platform or key in platforms[platform].aliases:
                return platform
    valid = ", ".join(f"{p} ({', '.join(e.aliases)})" for p, e in platforms.items())
    raise ValueError(f"unknown {what} {name!r}; valid platforms: {valid}")


def resolve_gpu_sharing(mode: object) -> str | None:
    rule = deployment_guide().rules.gpu_sharing
    if mode is None:
        return None
    if isinstance(mode, str):
        key = normalize_name(mode)
        if key in ("none", ""):
            return None
        key = rule.aliases.get(key.replace("-", "_"), rule.aliases.get(key, key))
        if key in rule.modes:
            return key
    raise ValueError(f"unknown gpu_sharing {mode!r}; valid values: None, {', '.join(rule.modes)}")


def _whole_number(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number, at least 1; got {value!r}")
    return value


def _minutes_text(low: int, high: int) -> str:
    def one(m: int) -> str:
        return f"{m // 60} h" if m % 60 == 0 and m >= 60 else f"{m} min"

    return one(low) if low == high else f"{one(low)}-{one(high)}"
