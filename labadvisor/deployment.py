"""Deployment advice for a multi-user AI lab: Docker Compose or K3s, and how to migrate."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from labadvisor.explain import Advice, Reason, fill, fire, source_of
from labadvisor.guides import deployment_data
from labadvisor.units import normalize_name

DEPLOYMENT_CHOICES = ("docker-compose", "k3s")


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
    data = deployment_data()
    guide = data["guide"]
    rules = data["rules"]
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

    reasons: list[Reason] = []
    warnings: list[str] = []
    threshold = rules["users"]["k3s_from_users"]
    choice = "k3s" if users >= threshold else "docker-compose"
    template = "k3s_text" if choice == "k3s" else "compose_text"
    reasons.append(fire(rules["users"], guide, template=template, effect=choice, users=users))
    if nodes > rules["nodes"]["max_compose_nodes"]:
        choice = "k3s"
        reasons.append(fire(rules["nodes"], guide, effect="k3s", nodes=nodes))
    if high_availability:
        choice = "k3s"
        reasons.append(fire(rules["high-availability"], guide, effect="k3s"))
    if sharing:
        choice = "k3s"
        reasons.append(fire(rules["gpu-sharing"], guide, effect="k3s", mode=sharing))

    ops_entry = {c["id"]: c for c in data["costs"]}["cost.operational"]
    ops = {"ops_k3s": ops_entry["k3s"], "ops_compose": ops_entry["docker_compose"]}
    if choice == "k3s" and kubernetes_experience is False:
        warnings.append(fill(rules["no-experience"], "warning", **ops))
    if choice == "k3s" and kubernetes_experience is not True:
        reasons.append(fire(rules["no-experience"], guide, **ops))
    if choice == "docker-compose":
        if kubernetes_experience:
            reasons.append(fire(rules["experience"], guide))
        reasons.append(fire(rules["start-simple"], guide, effect="docker-compose"))
        if users > rules["compose-capacity"]["max_users"]:
            warnings.append(fill(rules["compose-capacity"], "warning", users=users))
    elif users > rules["k3s-capacity"]["measured_users"]:
        warnings.append(fill(rules["k3s-capacity"], "warning", users=users))

    matching = matching_use_cases(users)
    for case in matching:
        reasons.append(
            Reason(
                rule=case["id"],
                text=f"{case['name']} ({case['users_label']}): {case['recommendation']} — "
                + "; ".join(case["points"])
                + ".",
                source=source_of(case, guide),
            )
        )

    migration = None
    if current_platform and current_platform != choice:
        migration = migration_plan(current_platform, choice)
        if choice == "k3s":
            total = f"{migration.stated_total_hours[0]:g}-{migration.stated_total_hours[1]:g} hours"
            reasons.append(fire(rules["migrate"], guide, effect="k3s", total=total))
        else:
            reasons.append(fire(rules["rollback"], guide, effect="docker-compose"))

    return DeploymentAdvice(
        choice=choice,
        choice_label=data["platforms"][choice]["label"],
        reasons=reasons,
        warnings=warnings,
        users=users,
        nodes=nodes,
        migration=migration,
        use_cases=[c["id"] for c in matching],
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
    data = deployment_data()
    source = resolve_platform(source, "source")
    target = resolve_platform(target, "target")
    if source == target:
        raise ValueError(f"source and target are both {source!r}; nothing to migrate")
    rollbacks = {r["id"]: r for r in data["rollback"]}
    checklist = [{"id": c["id"], "item": c["item"]} for c in data["checklist"]]
    if target == "k3s":
        total = data["migration_total"]
        return MigrationPlan(
            source=source,
            target=target,
            steps=[
                MigrationStep(
                    s["order"], s["title"], s["min_minutes"], s["max_minutes"], list(s["details"])
                )
                for s in sorted(data["migration_steps"], key=lambda s: s["order"])
            ],
            stated_total_hours=(total["min_hours"], total["max_hours"]),
            checklist=checklist,
            rollback=[dict(s) for s in rollbacks["rollback.k3s-to-docker"]["steps"]],
            transfers={t["category"]: list(t["items"]) for t in data["transfers"]},
        )
    # Going back to Docker Compose is the guide's K3s → Docker rollback.
    steps = rollbacks["rollback.k3s-to-docker"]["steps"]
    return MigrationPlan(
        source=source,
        target=target,
        steps=[
            MigrationStep(i, s["title"], None, None, [s["command"]]) for i, s in enumerate(steps, 1)
        ],
        stated_total_hours=None,
        checklist=[],
        rollback=[dict(s) for s in rollbacks["rollback.docker-previous"]["steps"]],
        transfers={t["category"]: list(t["items"]) for t in data["transfers"]},
    )


def matching_use_cases(users: int) -> list[Mapping[str, Any]]:
    return [
        case
        for case in deployment_data()["use_cases"]
        if case.get("min_users", 1) <= users <= case.get("max_users", users)
    ]


def resolve_platform(name: object, what: str = "platform") -> str:
    platforms = deployment_data()["platforms"]
    if isinstance(name, str):
        key = normalize_name(name)
        for platform, entry in platforms.items():
            if key == platform or key in entry["aliases"]:
                return platform
    valid = ", ".join(f"{p} ({', '.join(e['aliases'])})" for p, e in platforms.items())
    raise ValueError(f"unknown {what} {name!r}; valid platforms: {valid}")


def resolve_gpu_sharing(mode: object) -> str | None:
    rule = deployment_data()["rules"]["gpu-sharing"]
    if mode is None:
        return None
    if isinstance(mode, str):
        key = normalize_name(mode)
        if key in ("none", ""):
            return None
        key = rule["aliases"].get(key.replace("-", "_"), rule["aliases"].get(key, key))
        if key in rule["modes"]:
            return key
    raise ValueError(
        f"unknown gpu_sharing {mode!r}; valid values: None, {', '.join(rule['modes'])}"
    )


def _whole_number(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number, at least 1; got {value!r}")
    return value


def _minutes_text(low: int, high: int) -> str:
    def one(m: int) -> str:
        return f"{m // 60} h" if m % 60 == 0 and m >= 60 else f"{m} min"

    return one(low) if low == high else f"{one(low)}-{one(high)}"
