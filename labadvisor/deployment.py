"""Deployment advice for a multi-user AI lab: Docker Compose or K3s, what each costs a
month, and how to get from where the lab is to where it should be.

The order in which the guide's rules win is data (``[[arbitration]]`` in
``compose_vs_k3s.toml``, decided in :mod:`labadvisor.deployment_decision`); each reason
says whether it decided, supported, was overridden (and by what) or is context.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from labadvisor.deployment_decision import (
    DeploymentDecision,
    LabGpu,
    LabMeasurements,
    decide_deployment,
    read_measured,
    resolve_lab_gpu,
    resolve_triggers,
)
from labadvisor.deployment_facts import (
    OPERATIONAL_COST,
    PLATFORMS,
    ROLLBACK_TO_COMPOSE,
    ROLLBACK_TO_PREVIOUS,
    DeploymentGuide,
    DeploymentUseCase,
    PlatformName,
)
from labadvisor.explain import NO_MATH, Advice, Reason, fire, settle
from labadvisor.guides import deployment_guide
from labadvisor.units import check_finite_number, normalize_name

__all__ = [
    "DeploymentAdvice",
    "LabMeasurements",
    "MigrationPlan",
    "MigrationStep",
    "NextStep",
    "PlatformCost",
    "advise_deployment",
    "migration_plan",
    "platform_costs",
]


@dataclass(frozen=True)
class MigrationStep:
    order: int
    title: str
    min_minutes: int | None
    max_minutes: int | None
    details: list[str]

    @property
    def duration(self) -> str | None:
        """How long the step takes, as the guide states it; None where it states nothing
        (the steps of leaving K3s, which the guide never times)."""
        if self.min_minutes is None or self.max_minutes is None:
            return None
        return _minutes_text(self.min_minutes, self.max_minutes)


@dataclass
class MigrationPlan:
    """How to get from the platform in use to the advised one, and back if it goes wrong
    (``rollback`` always undoes this move: K3s → Docker after a migration to K3s, back to K3s
    after a move to Docker Compose)."""

    source: str
    target: str
    steps: list[MigrationStep]
    stated_total_hours: tuple[float, float] | None
    checklist: list[dict[str, str]] = field(default_factory=list)
    rollback: list[dict[str, str]] = field(default_factory=list)
    transfers: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def steps_total_minutes(self) -> tuple[int, int] | None:
        if any(s.min_minutes is None or s.max_minutes is None for s in self.steps):
            return None
        low = sum(s.min_minutes or 0 for s in self.steps)
        return low, sum(s.max_minutes or 0 for s in self.steps)

    @property
    def rollback_title(self) -> str:
        return f"Rollback ({self.target} → {self.source})"

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
            "notes": list(self.notes),
        }

    def text_lines(self) -> list[str]:
        lines = [f"Migration {self.source} → {self.target}:"]
        for step in self.steps:
            duration = f" ({step.duration})" if step.duration else ""
            lines.append(f"  {step.order}. {step.title}{duration}")
            lines += [f"       {d}" for d in step.details]
        if self.stated_total_hours:
            low, high = self.stated_total_hours
            lines.append(f"  Total (guide): {low:g}-{high:g} hours")
        if self.checklist:
            lines.append("  Checklist:")
            lines += [f"    [ ] {c['item']}" for c in self.checklist]
        if self.rollback:
            lines.append(f"  {self.rollback_title}:")
            lines += [f"    {r['title']}: {r['command']}" for r in self.rollback]
        lines += [f"  Note: {note}" for note in self.notes]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.text_lines())

    def _repr_html_(self) -> str:
        esc = html.escape
        # A Time column only where the guide times the steps (it never times leaving K3s).
        timed = any(s.duration for s in self.steps)
        time_head = "<th>Time</th>" if timed else ""
        steps = "".join(
            f"<tr><td>{s.order}</td><td>{esc(s.title)}</td>"
            + (f"<td>{esc(s.duration or '')}</td>" if timed else "")
            + f"<td>{esc('; '.join(s.details))}</td></tr>"
            for s in self.steps
        )
        checklist = "".join(f"<li>☐ {esc(c['item'])}</li>" for c in self.checklist)
        rollback = "".join(
            f"<li>{esc(r['title'])}: <code>{esc(r['command'])}</code></li>" for r in self.rollback
        )
        notes = "".join(f"<p><i>{esc(note)}</i></p>" for note in self.notes)
        total = ""
        if self.stated_total_hours:
            low, high = self.stated_total_hours
            total = f"<p>Total (guide): {low:g}-{high:g} h</p>"
        # The deployment panel shows its own, tickable checklist and hides this static one
        # by its class.
        checklist_block = (
            f"<div class='labadvisor-checklist'><b>Checklist</b>"
            f"<ul style='list-style:none'>{checklist}</ul></div>"
            if self.checklist
            else ""
        )
        return (
            f"<div class='labadvisor-migration {NO_MATH}'>"
            f"<b>Migration {esc(self.source)} → {esc(self.target)}</b>"
            f"<table><tr><th>#</th><th>Step</th>{time_head}<th>Details</th></tr>{steps}</table>"
            f"{total}{checklist_block}"
            f"<b>{esc(self.rollback_title)}</b><ul>{rollback}</ul>{notes}</div>"
        )


@dataclass(frozen=True)
class NextStep:
    """One of the guide's other options, offered where it fits (a trial, parallel testing,
    when to plan a migration)."""

    id: str
    title: str
    details: list[str]
    source: str


@dataclass(frozen=True)
class PlatformCost:
    """What a platform costs a month: operations hours valued at a rate, plus servers."""

    platform: PlatformName
    label: str
    ops_hours_per_week: tuple[float, float]
    hourly_rate: float
    servers: int
    server_monthly: float
    low: float
    high: float

    @property
    def text(self) -> str:
        low_h, high_h = self.ops_hours_per_week
        servers = "server" if self.servers == 1 else "servers"
        return (
            f"{self.label} ${self.low:,.0f}-{self.high:,.0f} ({low_h:g}-{high_h:g} h/week "
            f"of operations at ${self.hourly_rate:,.0f}/h + {self.servers} {servers} at "
            f"${self.server_monthly:,.0f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ops_hours_per_week": list(self.ops_hours_per_week)}


@dataclass
class DeploymentAdvice(Advice):
    users: int = 0
    nodes: int = 1
    migration: MigrationPlan | None = None
    use_cases: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    concurrent_users: int | None = None
    expected_users: int | None = None
    triggers: list[str] = field(default_factory=list)
    deciding_step: str = ""
    costs: dict[str, PlatformCost] = field(default_factory=dict)
    next_steps: list[NextStep] = field(default_factory=list)
    measured: dict[str, float] | None = None
    gpu: str | None = None

    title = "Deployment advice"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            users=self.users,
            nodes=self.nodes,
            use_cases=list(self.use_cases),
            migration=self.migration.to_dict() if self.migration else None,
            inputs=dict(self.inputs),
            concurrent_users=self.concurrent_users,
            expected_users=self.expected_users,
            triggers=list(self.triggers),
            deciding_step=self.deciding_step,
            costs={name: cost.to_dict() for name, cost in self.costs.items()},
            next_steps=[asdict(step) for step in self.next_steps],
            measured=dict(self.measured) if self.measured else None,
            gpu=self.gpu,
        )
        return out

    def _headline_text(self) -> str:
        return "Per month: " + "; ".join(cost.text for cost in self.costs.values())

    def _headline_html(self) -> str:
        cells = "".join(
            f"<span style='margin-right:1.5em'"
            f"{' data-chosen=' + chr(39) + 'true' + chr(39) if name == self.choice else ''}>"
            f"{'<b>' if name == self.choice else ''}{html.escape(cost.text)}"
            f"{'</b>' if name == self.choice else ''}</span>"
            for name, cost in self.costs.items()
        )
        return f"<div class='labadvisor-platform-costs'>Per month: {cells}</div>"

    def _details_text(self) -> list[str]:
        lines: list[str] = []
        for step in self.next_steps:
            lines.append(f"Next: {step.title}")
            lines += [f"  - {d}" for d in step.details]
        if self.migration:
            lines += self.migration.text_lines()
        return lines

    def _details_html(self) -> str:
        esc = html.escape
        steps = "".join(
            f"<li><b>{esc(s.title)}</b><ul>{''.join(f'<li>{esc(d)}</li>' for d in s.details)}"
            f"</ul><small style='opacity:.7'>{esc(s.source)}</small></li>"
            for s in self.next_steps
        )
        block = f"<div class='labadvisor-next-steps'><b>Next steps</b><ul>{steps}</ul></div>"
        plan = self.migration._repr_html_() if self.migration else ""
        return (block if self.next_steps else "") + plan


def platform_costs(
    *,
    nodes: int = 1,
    high_availability: bool = False,
    ops_hourly_rate: float | None = None,
    server_monthly: float | None = None,
) -> dict[str, PlatformCost]:
    """Each platform's monthly cost: the guide's operations hours per week (2-4 h for
    Docker Compose, 4-8 h for K3s) times ``ops_hourly_rate``, plus its servers at
    ``server_monthly`` (Compose: one; K3s: ``nodes``, at least three for high availability)."""
    guide = deployment_guide()
    defaults = guide.operations_defaults
    rate = check_finite_number(
        defaults.hourly_rate if ops_hourly_rate is None else ops_hourly_rate,
        "ops_hourly_rate",
        minimum=0,
    )
    server = check_finite_number(
        defaults.server_monthly if server_monthly is None else server_monthly,
        "server_monthly",
        minimum=0,
    )
    k3s_servers = max(nodes, guide.rules.ha_min_servers if high_availability else 1)
    out: dict[str, PlatformCost] = {}
    for platform in PLATFORMS:
        servers = k3s_servers if platform == "k3s" else 1
        low_h, high_h = guide.operations.hours(platform)
        weeks = guide.operations.weeks_per_month
        out[platform] = PlatformCost(
            platform=platform,
            label=guide.platforms[platform].label,
            ops_hours_per_week=(low_h, high_h),
            hourly_rate=rate,
            servers=servers,
            server_monthly=server,
            low=low_h * weeks * rate + servers * server,
            high=high_h * weeks * rate + servers * server,
        )
    return out


def advise_deployment(
    users: int | None = None,
    *,
    nodes: int = 1,
    high_availability: bool = False,
    gpu_sharing: str | None = None,
    kubernetes_experience: bool | None = None,
    current: str | None = None,
    concurrent_users: int | None = None,
    expected_users: int | None = None,
    migration_triggers: list[str] | tuple[str, ...] | None = None,
    gpu: str | None = None,
    gpu_count: int | None = None,
    current_ok: bool = True,
    prefer: str | None = None,
    ops_hourly_rate: float | None = None,
    server_monthly: float | None = None,
    measured: LabMeasurements | None = None,
) -> DeploymentAdvice:
    """Docker Compose or K3s for a lab of ``users`` registered people, and why.

    ``concurrent_users`` is how many are online at once (the guide's "Max Concurrent Users
    ~50" for Compose); ``expected_users`` the registered users expected within a year.
    ``migration_triggers`` names the guide's triggers seen (ids from
    ``options.deployment_options()["migration_triggers"]``). ``gpu`` is a GPU model name or
    "auto" (this machine's GPUs), for the MIG check; ``gpu_count`` how many GPUs the lab
    has. ``current`` is the platform in use and ``current_ok`` whether it works: a working
    platform is kept unless something needs the other one; K3s that does not work, or
    ``prefer="docker-compose"``, moves a lab that needs nothing of K3s back to Compose.
    ``ops_hourly_rate`` and ``server_monthly`` price each platform's month. ``measured``
    is the lab's :class:`labadvisor.usage.LabSummary` (from
    :func:`labadvisor.usage.lab_summary`; any object with its ``active_users``,
    ``peak_concurrent_servers``, ``p95_concurrent_servers``, ``gpu_contention`` and
    ``days`` will do): it fills the users (active users), the concurrency (the peak) and the
    GPU-contention trigger (contention at or above the guide's share) that were not given,
    and the reasons quote the measured figures. A summary without samples is a ValueError.
    """
    guide = deployment_guide()
    rules = guide.rules
    lab = read_measured(measured) if measured is not None else None
    users_measured = users is None and lab is not None
    if users is None:
        if lab is None:
            raise ValueError("give users (the number of lab users) or measured (a LabSummary)")
        users = max(lab.active_users, 1)
    users = _whole_number(users, "users")
    nodes = _whole_number(nodes, "nodes")
    for name, flag in (("high_availability", high_availability), ("current_ok", current_ok)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if kubernetes_experience is not None and not isinstance(kubernetes_experience, bool):
        raise ValueError(
            f"kubernetes_experience must be True, False or None, got {kubernetes_experience!r}"
        )
    concurrency_measured = concurrent_users is None and lab is not None
    if concurrent_users is None and lab is not None:
        concurrent_users = lab.peak
    concurrent = (
        None if concurrent_users is None else _whole_number(concurrent_users, "concurrent_users")
    )
    expected = None if expected_users is None else _whole_number(expected_users, "expected_users")
    sharing = resolve_gpu_sharing(gpu_sharing)
    current_platform = None if current is None else resolve_platform(current, "current")
    preferred = None if prefer is None else resolve_platform(prefer, "prefer")
    triggers = resolve_triggers(migration_triggers, guide)
    contention_seen = (
        lab is not None
        and lab.contention >= guide.growth.gpu_contention_share
        and guide.growth.gpu_contention_trigger not in triggers
    )
    if contention_seen:
        triggers = resolve_triggers([*triggers, guide.growth.gpu_contention_trigger], guide)
    lab_gpu = resolve_lab_gpu(gpu, gpu_count, guide)
    costs = platform_costs(
        nodes=nodes,
        high_availability=high_availability,
        ops_hourly_rate=ops_hourly_rate,
        server_monthly=server_monthly,
    )
    concurrency_text = (
        lab.concurrency_text
        if concurrency_measured and lab is not None
        else f"{concurrent} users online at once"
    )

    decision = decide_deployment(
        guide,
        users=users,
        concurrent=concurrent,
        concurrency_text=concurrency_text,
        measured=concurrency_measured,
        nodes=nodes,
        high_availability=high_availability,
        sharing=sharing,
        triggers=triggers,
        prefer=preferred,
        current=current_platform,
        current_ok=current_ok,
    )
    choice = decision.choice
    line = rules.users.k3s_from_users
    limit = rules.compose_capacity.users

    reasons: list[Reason] = []
    users_choice: PlatformName = "k3s" if users >= line else "docker-compose"
    users_text = rules.users.k3s_text if users_choice == "k3s" else rules.users.compose_text
    users_reason = fire(
        rules.users, guide.source(rules.users), users_text, points_to=users_choice, users=users
    )
    if users_measured and lab is not None:
        users_reason = replace(users_reason, text=f"{users_reason.text} {lab.users_text}")
    reasons.append(users_reason)
    if concurrent is not None:
        over = concurrent > limit
        concurrency = rules.concurrency
        reasons.append(
            fire(
                concurrency,
                guide.source(concurrency),
                concurrency.over_text if over else concurrency.within_text,
                points_to="k3s" if over else "docker-compose",
                concurrency=concurrency_text,
                max_users=limit,
            )
        )
    if nodes > rules.nodes.max_compose_nodes:
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
        rule = rules.high_availability
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="k3s"))
    if sharing:
        reasons.append(
            fire(
                rules.gpu_sharing,
                guide.source(rules.gpu_sharing),
                rules.gpu_sharing.text,
                points_to="k3s",
                mode=sharing,
            )
        )
    if triggers:
        labels = ", ".join(guide.triggers[t].label for t in triggers)
        if contention_seen and lab is not None:
            labels += (
                f" (measured: GPU contention {lab.contention:.0%} of the time over the last "
                f"{lab.days:g} days)"
            )
        rule = rules.triggers
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="k3s", triggers=labels))
    if preferred is not None:
        rule = rules.preference
        reasons.append(
            fire(
                rule,
                guide.source(rule),
                rule.text,
                points_to=preferred,
                platform=guide.platforms[preferred].label,
            )
        )
    if current_platform == "k3s" and not current_ok:
        rule = rules.not_working
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="docker-compose"))
    if current_platform is not None and current_ok:
        stay = rules.stay
        reasons.append(
            fire(
                stay,
                guide.source(stay),
                stay.k3s_text if current_platform == "k3s" else stay.compose_text,
                points_to=current_platform,
                users=users,
                k3s_from_users=line,
            )
        )
    if users < line:
        rule = rules.start_simple
        reasons.append(fire(rule, guide.source(rule), rule.text, points_to="docker-compose"))

    operations = guide.cost(OPERATIONAL_COST)
    ops: dict[str, Any] = {"ops_k3s": operations.k3s, "ops_compose": operations.docker_compose}
    warnings: list[str] = []
    no_experience = rules.no_experience
    if choice == "k3s" and kubernetes_experience is False and no_experience.warning is not None:
        warnings.append(no_experience.warning.render(**ops))
    if choice == "k3s" and kubernetes_experience is not True:
        reasons.append(fire(no_experience, guide.source(no_experience), no_experience.text, **ops))
    if choice == "docker-compose" and kubernetes_experience:
        rule = rules.experience
        reasons.append(fire(rule, guide.source(rule), rule.text))

    matching = matching_use_cases(users)
    for case in matching:
        reasons.append(
            Reason(
                rule=case.id,
                text=f"{case.name} ({case.users_label}): {case.recommendation} — "
                + "; ".join(case.points)
                + ".",
                source=guide.source(case),
                points_to=case.platform,
                effect="supports",
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

    growth = _growth_reason(guide, choice, users, concurrent, expected)
    if growth is not None:
        reasons.append(growth[0])
    rule = rules.platform_costs
    reasons.append(
        fire(
            rule,
            guide.source(rule),
            rule.text,
            compose_cost=costs["docker-compose"].text,
            k3s_cost=costs["k3s"].text,
        )
    )

    warnings += _sanity_warnings(
        guide, decision, choice, users, concurrent, nodes, high_availability, sharing, lab_gpu
    )
    if current_platform == "k3s" and not current_ok and choice == "k3s":
        k3s_reasons = decision.needs_k3s + decision.capacity
        needs = k3s_reasons[0][1] if k3s_reasons else "your request (prefer='k3s')"
        if rules.not_working.warning is not None:
            warnings.append(rules.not_working.warning.render(needs=needs))
    if current_platform == "docker-compose" and not current_ok and choice == "docker-compose":
        commands = "; ".join(s.command for s in guide.rollback[ROLLBACK_TO_PREVIOUS].steps)
        warnings.append(rules.compose_not_working.warning.render(commands=commands))

    settled = [
        _why_not(guide, r, decision) for r in settle(reasons, choice, decision.deciding_rule)
    ]
    return DeploymentAdvice(
        choice=choice,
        choice_label=guide.platforms[choice].label,
        reasons=settled,
        warnings=warnings,
        users=users,
        nodes=nodes,
        migration=migration,
        use_cases=[c.id for c in matching],
        concurrent_users=concurrent,
        expected_users=expected,
        triggers=list(triggers),
        deciding_step=decision.step,
        costs=costs,
        next_steps=_next_steps(guide, choice, current_platform, growth),
        measured=lab.to_dict() if lab else None,
        gpu=lab_gpu.name,
        inputs={
            "users": users,
            "nodes": nodes,
            "high_availability": high_availability,
            "gpu_sharing": sharing,
            "kubernetes_experience": kubernetes_experience,
            "current": current_platform,
            "concurrent_users": concurrent_users if concurrent_users is None else concurrent,
            "expected_users": expected,
            "migration_triggers": list(resolve_triggers(migration_triggers, guide)),
            "gpu": gpu,
            "gpu_count": gpu_count,
            "current_ok": current_ok,
            "prefer": preferred,
            "ops_hourly_rate": costs["k3s"].hourly_rate,
            "server_monthly": costs["k3s"].server_monthly,
        },
    )


def _why_not(guide: DeploymentGuide, reason: Reason, decision: DeploymentDecision) -> Reason:
    """An overridden reason, ending with what it lost to: "Not followed: ..."."""
    if reason.effect != "overridden":
        return reason
    because = guide.step(decision.step).because.render(detail=decision.detail)
    return Reason(
        rule=reason.rule,
        text=f"{reason.text} Not followed: {because}.",
        source=reason.source,
        effect=reason.effect,
        points_to=reason.points_to,
    )


def _growth_reason(
    guide: DeploymentGuide,
    choice: PlatformName,
    users: int,
    concurrent: int | None,
    expected: int | None,
) -> tuple[Reason, int] | None:
    """For a lab on Docker Compose that expects to pass the 50 line within a year: which
    trigger will likely fire first, around which month, and when to plan the migration.

    Growth is taken as linear over twelve months, and concurrency as growing in proportion
    to registered users (unknown concurrency counts every user as online)."""
    rules = guide.rules
    line = rules.users.k3s_from_users
    limit = rules.compose_capacity.users
    if choice != "docker-compose" or expected is None or expected <= users:
        return None
    online_share = 1.0 if concurrent is None else concurrent / users
    expected_online = expected * online_share
    if expected < line and expected_online <= limit:
        return None

    def month(now: float, later: float, at: float) -> float:
        return math.inf if later <= at and later <= now else 12 * (at - now) / (later - now)

    by_users = month(users, expected, line) if expected >= line else math.inf
    by_online = (
        month(users * online_share, expected_online, limit) if expected_online > limit else math.inf
    )
    first = guide.triggers[guide.growth.first_trigger].label
    first += (
        f" (concurrent users past Docker Compose's ~{limit})"
        if by_online <= by_users
        else f" (as registered users reach the guide's {line}-user line)"
    )
    when = max(1, math.ceil(min(by_users, by_online)))
    plan = max(1, when - guide.growth.plan_lead_months)
    total = guide.migration_total
    rule = rules.growth
    reason = fire(
        rule,
        guide.source(rule),
        rule.text,
        expected=expected,
        first=first,
        month=when,
        plan_month=plan,
        total=f"{total.min_hours:g}-{total.max_hours:g} hours",
    )
    return reason, plan


def _sanity_warnings(
    guide: DeploymentGuide,
    decision: DeploymentDecision,
    choice: PlatformName,
    users: int,
    concurrent: int | None,
    nodes: int,
    high_availability: bool,
    sharing: str | None,
    lab_gpu: LabGpu,
) -> list[str]:
    rules = guide.rules
    out: list[str] = []
    if high_availability and nodes < rules.ha_min_servers:
        out.append(
            rules.ha_nodes.warning.render(node_count=f"{nodes} node{'' if nodes == 1 else 's'}")
        )
    if sharing == "mig" and lab_gpu.mig_capable is False and lab_gpu.name:
        out.append(
            rules.mig_gpu.warning.render(
                mig_gpus=", ".join(guide.mig.gpus), gpu=f"the {lab_gpu.name}"
            )
        )
    if sharing == "mig" and lab_gpu.undetected is not None:
        out.append(
            rules.mig_unchecked.warning.render(
                mig_gpus=", ".join(guide.mig.gpus), why=lab_gpu.undetected
            )
        )
    if sharing == "time-slicing" and lab_gpu.count == 1:
        out.append(rules.time_slicing_one_gpu.warning.render())
    busiest = max(users, concurrent or 0)
    if choice == "docker-compose" and busiest > rules.compose_capacity.users:
        out.append(rules.compose_capacity.warning.render(users=busiest))
    elif choice == "k3s" and busiest > rules.k3s_capacity.users:
        out.append(rules.k3s_capacity.warning.render(users=busiest))
    return out


def _next_steps(
    guide: DeploymentGuide,
    choice: PlatformName,
    current: PlatformName | None,
    growth: tuple[Reason, int] | None,
) -> list[NextStep]:
    """The guide's other options where they fit: the Docker trial for a new lab on Compose,
    parallel testing before a migration to K3s (now or planned)."""
    trial, parallel = guide.trial, guide.parallel_testing
    ports = "/".join(map(str, parallel.k3s_ports))
    docker_ports = "/".join(map(str, parallel.docker_ports))
    parallel_step = NextStep(
        id=parallel.id,
        title=f"Parallel testing: K3s on ports {ports} beside Docker on {docker_ports}",
        details=[
            f"Test K3s while Docker Compose keeps serving users on {docker_ports}",
            parallel.command,
            "Switch over once users' logins, GPU access and data check out on K3s",
        ],
        source=guide.source(parallel),
    )
    out: list[NextStep] = []
    if current is None and choice == "docker-compose":
        out.append(
            NextStep(
                id=trial.id,
                title=f"Docker trial ({trial.min_weeks}-{trial.max_weeks} weeks)",
                details=list(trial.steps),
                source=guide.source(trial),
            )
        )
    if current == "docker-compose" and choice == "k3s":
        out.append(parallel_step)
    if growth is not None:
        plan_month = growth[1]
        out.append(
            NextStep(
                id="deploy.growth",
                title=f"Plan the move to K3s for about month {plan_month}",
                details=[
                    "Keep the guide's checklist ready: stable 2+ weeks, backups tested, "
                    "users notified, a 4-hour maintenance window",
                    *parallel_step.details[:2],
                ],
                source=guide.source(guide.rules.growth),
            )
        )
    return out


def migration_plan(source: str, target: str) -> MigrationPlan:
    """The plan from one platform to the other.

    To K3s: the guide's migration, its checklist and its K3s → Docker rollback (with the
    note that restoring the pre-migration dump loses what was written on K3s). To Docker
    Compose: K3s's data is backed up first and restored under Compose (a lab that started
    on K3s has no Docker-era backup), and the rollback goes back to K3s.
    """
    guide = deployment_guide()
    source = resolve_platform(source, "source")
    target = resolve_platform(target, "target")
    if source == target:
        raise ValueError(f"source and target are both {source!r}; nothing to migrate")
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
            rollback=[
                {"title": s.title, "command": s.command}
                for s in guide.rollback[ROLLBACK_TO_COMPOSE].steps
            ],
            transfers=transfers,
            notes=[guide.rollback_note.text],
        )
    leave = guide.leave_k3s
    return MigrationPlan(
        source=source,
        target=target,
        steps=[
            MigrationStep(i, s.title, None, None, [s.command]) for i, s in enumerate(leave.steps, 1)
        ],
        stated_total_hours=None,
        # The guide's checklist, less "current deployment stable": the K3s being left
        # need not be.
        checklist=[{"id": c.id, "item": c.item} for c in guide.checklist if c.id != "check.stable"],
        rollback=[{"title": s.title, "command": s.command} for s in leave.rollback],
        transfers=transfers,
        notes=list(leave.notes),
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
