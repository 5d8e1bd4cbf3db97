"""Every table of both guides as a pandas DataFrame, built from the packaged data.

pandas is imported here, not in ``labadvisor/__init__``, so only users of this module pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pandas as pd

from labadvisor.costs import CHEAPER, monthly_cost_arrays, monthly_costs
from labadvisor.guides import deployment_guide, offload_guide, packaged_offload_guide
from labadvisor.offload_facts import DEPENDS
from labadvisor.records import Entry

_WINNER = {"local": "Local", "offload": "Offload", "none": "-"}


def _frame(entries: Iterable[Entry], columns: Mapping[str, str]) -> pd.DataFrame:
    """DataFrame of the records' fields named in ``columns``, renamed to their display names
    (tuples of strings joined with "; ")."""
    rows = []
    for entry in entries:
        fields = asdict(entry)
        rows.append({label: _cell(fields[key]) for key, label in columns.items()})
    return pd.DataFrame(rows, columns=list(columns.values()))


def _cell(value: Any) -> Any:
    return "; ".join(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------- offload vs local


def decision_tree() -> pd.DataFrame:
    """The quick decision tree: size tiers, then workload complexity classes."""
    guide = offload_guide()
    labels = guide.choice_labels
    rows = []
    for tier in guide.size_tiers:
        rows.append(
            {
                "decision": "Model size",
                "branch": f"{tier.label} ({tier.guide_range})",
                "with local GPU": labels[tier.choice],
                "without local GPU": labels[tier.choice_when_no_usable_gpu],
                "id": tier.id,
            }
        )
    for entry in guide.complexity:
        if entry.name == DEPENDS:
            continue
        examples = f" ({', '.join(entry.examples)})" if entry.examples else ""
        rows.append(
            {
                "decision": "Workload complexity",
                "branch": entry.label + examples,
                "with local GPU": entry.guide_choice,
                "without local GPU": entry.guide_choice,
                "id": entry.id,
            }
        )
    return pd.DataFrame(rows)


def offload_comparison() -> pd.DataFrame:
    """The detailed comparison matrix, one row per factor."""
    df = _frame(
        offload_guide().comparison,
        {
            "category": "Category",
            "factor": "Factor",
            "local": "Local Development",
            "offload": "Docker Offload",
            "winner": "Winner",
            "id": "id",
        },
    )
    df["Winner"] = df["Winner"].map(_WINNER)
    return df


def use_case_scenarios() -> pd.DataFrame:
    return _frame(
        offload_guide().use_cases,
        {
            "runtime": "Ideal for",
            "name": "Use case",
            "scenario": "Scenario",
            "why": "Why",
            "models": "Model",
            "example": "Example",
            "id": "id",
        },
    )


def hardware_costs() -> pd.DataFrame:
    costs = offload_guide().costs
    total = costs.hardware_total
    rows = [
        *(
            {"Item": h.item, "Low (USD)": h.low, "High (USD)": h.high, "id": h.id}
            for h in costs.hardware
        ),
        {"Item": total.item, "Low (USD)": total.approx, "High (USD)": total.approx, "id": total.id},
    ]
    return pd.DataFrame(rows, columns=["Item", "Low (USD)", "High (USD)", "id"])


def operational_costs() -> pd.DataFrame:
    return _frame(
        offload_guide().costs.operational,
        {"item": "Item", "low": "Low", "high": "High", "unit": "Unit", "id": "id"},
    )


def pay_per_use() -> pd.DataFrame:
    return _frame(
        offload_guide().costs.pay_per_use,
        {"item": "Item", "low": "Low", "high": "High", "unit": "Unit", "id": "id"},
    )


def usage_scenarios() -> pd.DataFrame:
    """The guide's Offload usage scenarios next to what its default rate gives.

    The guide's own figures: overrides (``configure(offload_rate=...)``) never change this
    table; :func:`your_cost_scenarios` computes the same rows with them.
    """
    guide = packaged_offload_guide()
    defaults = guide.costs.defaults
    rows = []
    for s in guide.costs.usage_scenarios:
        costs = monthly_cost_arrays(
            s.hours_per_day,
            offload_rate=defaults.offload_rate,
            local_monthly=defaults.local_monthly,
            team_size=1,
            days=defaults.days,
        )
        rows.append(
            {
                "Scenario": s.name,
                "Usage": s.hours_label,
                "hours_per_day": s.hours_per_day,
                "Guide (USD/month)": s.stated_monthly,
                "Model (USD/month)": float(costs.offload),
                "id": s.id,
            }
        )
    return pd.DataFrame(rows)


def cost_breakeven() -> pd.DataFrame:
    """The guide's break-even table, computed from the cost model at the guide's own rates.

    Overrides never change it; :func:`your_cost_scenarios` shows the rows with them.
    """
    guide = packaged_offload_guide()
    costs = guide.costs
    defaults = costs.defaults
    verdicts = costs.breakeven_verdicts
    by_side = {"local": verdicts.local, "offload": verdicts.offload, "equal": verdicts.equal}
    rows = []
    for row in costs.breakeven_rows:
        low, high = (
            monthly_cost_arrays(
                hours,
                offload_rate=defaults.offload_rate,
                local_monthly=defaults.local_monthly,
                team_size=row.team_size,
                days=defaults.days,
            )
            for hours in (row.hours_per_day_low, row.hours_per_day_high)
        )
        low_side, high_side = CHEAPER[int(low.cheaper)], CHEAPER[int(high.cheaper)]
        verdict = verdicts.mixed if low_side != high_side else by_side[low_side]
        rows.append(
            {
                "Usage Level": row.usage_level,
                "Team size": row.team_size,
                "Local (Monthly)": float(low.local),
                "Offload low (Monthly)": float(low.offload),
                "Offload high (Monthly)": float(high.offload),
                "Breakeven Point": verdict,
                "id": row.id,
            }
        )
    return pd.DataFrame(rows)


YOUR_SCENARIOS_TITLE = "Computed with your inputs and overrides (not the guide's table)"


def your_cost_scenarios(**inputs: Any) -> pd.DataFrame:
    """The guide's usage levels priced with the values in force (overrides included) and
    ``inputs`` (any keyword of :func:`~labadvisor.costs.monthly_costs` but
    ``hours_per_day`` and ``team_size``): labelled as yours, apart from the guide's tables.

    Each row names the local option it compares ("your owned GPU workstation", "buying a
    GPU", "this machine's CPU").
    """
    for key in ("hours_per_day", "team_size"):
        if key in inputs:
            raise ValueError(f"{key} comes from each usage level; give the other inputs only")
    guide = offload_guide()
    rows = []
    for row in guide.costs.breakeven_rows:
        for hours in sorted({row.hours_per_day_low, row.hours_per_day_high}):
            c = monthly_costs(hours, team_size=row.team_size, **inputs)
            rows.append(
                {
                    "Usage Level": row.usage_level,
                    "hours_per_day": hours,
                    "Team size": row.team_size,
                    "Local option": c.local_label,
                    "Local (Monthly)": c.local,
                    "Offload (Monthly)": c.offload,
                    "Offload rate (USD/h)": c.offload_rate,
                    "Verdict": c.verdict,
                    "Basis": YOUR_SCENARIOS_TITLE,
                    "id": row.id,
                }
            )
    df = pd.DataFrame(rows)
    df.attrs["title"] = YOUR_SCENARIOS_TITLE
    return df


def migration_phases() -> pd.DataFrame:
    rows = [
        {"Phase": p.phase, "Name": p.name, "Step": i, "Action": step, "id": p.id}
        for p in offload_guide().migration_phases
        for i, step in enumerate(p.steps, 1)
    ]
    return pd.DataFrame(rows)


def migration_flow() -> pd.DataFrame:
    return _frame(
        offload_guide().migration_flow,
        {"source": "From", "question": "Question", "yes": "Yes", "no": "No", "id": "id"},
    )


def hybrid_workflow() -> pd.DataFrame:
    return _frame(offload_guide().hybrid, {"stage": "Stage", "use_for": "Use for", "id": "id"})


def risks() -> pd.DataFrame:
    return _frame(
        offload_guide().risks, {"side": "Side", "risk": "Risk", "detail": "Detail", "id": "id"}
    )


def audience_recommendations() -> pd.DataFrame:
    rows = [
        {"Audience": a.audience, "Priority": i, "Recommendation": item, "id": a.id}
        for a in offload_guide().audiences
        for i, item in enumerate(a.items, 1)
    ]
    return pd.DataFrame(rows)


def workload_recommendations() -> pd.DataFrame:
    """The "For Specific Workloads" table (its six rows), with labadvisor's complexity class."""
    entries = [
        w
        for w in offload_guide().workloads
        if w.section == "Recommendations › For Specific Workloads"
    ]
    return _frame(
        entries,
        {
            "label": "Workload Type",
            "recommendation": "Recommendation",
            "reasoning": "Reasoning",
            "complexity": "Complexity",
            "id": "id",
        },
    )


# ---------------------------------------------------------- compose vs k3s


def deployment_criteria() -> pd.DataFrame:
    return _frame(
        deployment_guide().criteria,
        {
            "topic": "Criteria",
            "docker_compose": "Docker Compose",
            "k3s": "K3s (Kubernetes)",
            "id": "id",
        },
    )


def start_with() -> pd.DataFrame:
    rows = [
        {"Platform": s.platform, "Condition": item, "id": s.id}
        for s in deployment_guide().start_with
        for item in s.items
    ]
    return pd.DataFrame(rows)


def migration_triggers() -> pd.DataFrame:
    rows = [
        {"Category": c.category, "Trigger": t.label, "trigger": t.id, "id": c.id}
        for c in deployment_guide().migration_triggers
        for t in c.triggers
    ]
    return pd.DataFrame(rows)


def migration_transfers() -> pd.DataFrame:
    rows = [
        {"Category": t.category, "Item": item, "id": t.id}
        for t in deployment_guide().transfers
        for item in t.items
    ]
    return pd.DataFrame(rows)


def migration_steps() -> pd.DataFrame:
    return _frame(
        deployment_guide().migration_steps,
        {
            "order": "Step",
            "title": "Title",
            "min_minutes": "Min (minutes)",
            "max_minutes": "Max (minutes)",
            "details": "Details",
            "id": "id",
        },
    )


def rollback_steps() -> pd.DataFrame:
    rows = [
        {
            "Direction": r.direction,
            "Step": i,
            "Title": s.title,
            "Command": s.command,
            "id": r.id,
        }
        for r in deployment_guide().rollback.values()
        for i, s in enumerate(r.steps, 1)
    ]
    return pd.DataFrame(rows)


def trial_steps() -> pd.DataFrame:
    trial = deployment_guide().trial
    return pd.DataFrame(
        [{"Step": i, "Action": s, "id": trial.id} for i, s in enumerate(trial.steps, 1)]
    )


def deployment_performance() -> pd.DataFrame:
    return _frame(
        deployment_guide().performance,
        {"topic": "Metric", "docker_compose": "Docker Compose", "k3s": "K3s", "id": "id"},
    )


def deployment_costs() -> pd.DataFrame:
    return _frame(
        deployment_guide().costs,
        {"topic": "Aspect", "docker_compose": "Docker Compose", "k3s": "K3s", "id": "id"},
    )


def use_case_recommendations() -> pd.DataFrame:
    return _frame(
        deployment_guide().use_cases,
        {
            "name": "Use case",
            "users_label": "Users",
            "recommendation": "Recommendation",
            "platform": "Platform",
            "points": "Why",
            "id": "id",
        },
    )


def migration_checklist() -> pd.DataFrame:
    return _frame(deployment_guide().checklist, {"item": "Item", "id": "id"})


OFFLOAD_TABLES = (
    decision_tree,
    offload_comparison,
    use_case_scenarios,
    hardware_costs,
    operational_costs,
    pay_per_use,
    usage_scenarios,
    cost_breakeven,
    migration_phases,
    migration_flow,
    hybrid_workflow,
    risks,
    audience_recommendations,
    workload_recommendations,
)
DEPLOYMENT_TABLES = (
    deployment_criteria,
    start_with,
    migration_triggers,
    migration_transfers,
    migration_steps,
    rollback_steps,
    trial_steps,
    deployment_performance,
    deployment_costs,
    use_case_recommendations,
    migration_checklist,
)


def all_tables() -> dict[str, pd.DataFrame]:
    """Every table of both guides by function name."""
    return {f.__name__: f() for f in (*OFFLOAD_TABLES, *DEPLOYMENT_TABLES)}
