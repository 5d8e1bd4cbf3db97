"""Every table of both guides as a pandas DataFrame, built from the packaged data.

pandas is imported here, not in ``labadvisor/__init__``, so only users of this module pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from labadvisor.costs import monthly_costs
from labadvisor.guides import deployment_data, offload_data

_WINNER = {"local": "Local", "offload": "Offload", "none": "-"}


def _frame(entries: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """DataFrame with the given entry keys, renamed to display names, plus id/section."""
    rows = [{label: entry.get(key) for key, label in columns.items()} for entry in entries]
    return pd.DataFrame(rows, columns=list(columns.values()))


def _joined(entries: Iterable[Mapping[str, Any]], key: str = "items") -> list[dict[str, Any]]:
    return [{**e, key: "; ".join(e[key])} for e in entries]


# ---------------------------------------------------------- offload vs local


def decision_tree() -> pd.DataFrame:
    """The quick decision tree: size tiers, then workload complexity classes."""
    data = offload_data()
    labels = {k: v["label"] for k, v in data["choices"].items()}
    rows = []
    for tier in data["size_tiers"]:
        without = tier.get("choice_without_gpu")
        rows.append(
            {
                "decision": "Model size",
                "branch": f"{tier['label']} ({tier['guide_range']})",
                "with local GPU": labels[tier["choice"]],
                "without local GPU": labels[without or tier["choice"]],
                "id": tier["id"],
            }
        )
    for entry in data["complexity"]:
        if entry["name"] == "depends":
            continue
        examples = f" ({', '.join(entry['examples'])})" if entry["examples"] else ""
        rows.append(
            {
                "decision": "Workload complexity",
                "branch": entry["label"] + examples,
                "with local GPU": entry["guide_choice"],
                "without local GPU": entry["guide_choice"],
                "id": entry["id"],
            }
        )
    return pd.DataFrame(rows)


def offload_comparison() -> pd.DataFrame:
    """The detailed comparison matrix, one row per factor."""
    rows = [{**e, "winner": _WINNER[e["winner"]]} for e in offload_data()["comparison"]]
    return _frame(
        rows,
        {
            "category": "Category",
            "factor": "Factor",
            "local": "Local Development",
            "offload": "Docker Offload",
            "winner": "Winner",
            "id": "id",
        },
    )


def use_case_scenarios() -> pd.DataFrame:
    return _frame(
        offload_data()["use_cases"],
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
    data = offload_data()["costs"]
    total = data["hardware_total"]
    rows = [*data["hardware"], {**total, "low": total["approx"], "high": total["approx"]}]
    return _frame(rows, {"item": "Item", "low": "Low (USD)", "high": "High (USD)", "id": "id"})


def operational_costs() -> pd.DataFrame:
    return _frame(
        offload_data()["costs"]["operational"],
        {"item": "Item", "low": "Low", "high": "High", "unit": "Unit", "id": "id"},
    )


def pay_per_use() -> pd.DataFrame:
    return _frame(
        offload_data()["costs"]["pay_per_use"],
        {"item": "Item", "low": "Low", "high": "High", "unit": "Unit", "id": "id"},
    )


def usage_scenarios() -> pd.DataFrame:
    """The guide's Offload usage scenarios next to what the default rate gives."""
    rows = []
    for s in offload_data()["costs"]["usage_scenarios"]:
        model = monthly_costs(s["hours_per_day"]).offload
        rows.append(
            {
                "Scenario": s["name"],
                "Usage": s["hours_label"],
                "hours_per_day": s["hours_per_day"],
                "Guide (USD/month)": s["stated_monthly"],
                "Model (USD/month)": model,
                "id": s["id"],
            }
        )
    return pd.DataFrame(rows)


def cost_breakeven() -> pd.DataFrame:
    """The break-even table, computed from the cost model at the default rates."""
    costs = offload_data()["costs"]
    verdicts = costs["breakeven_verdicts"]
    rows = []
    for row in costs["breakeven_rows"]:
        team = row["team_size"]
        if "hours_per_day" in row:
            low = high = monthly_costs(row["hours_per_day"], team_size=team)
        else:
            low = monthly_costs(row["hours_per_day_low"], team_size=team)
            high = monthly_costs(row["hours_per_day_high"], team_size=team)
        offload_low, offload_high, local = low.offload, high.offload, low.local
        verdict = verdicts["mixed"] if low.cheaper != high.cheaper else verdicts[low.cheaper]
        rows.append(
            {
                "Usage Level": row["usage_level"],
                "Team size": team,
                "Local (Monthly)": local,
                "Offload low (Monthly)": offload_low,
                "Offload high (Monthly)": offload_high,
                "Breakeven Point": verdict,
                "id": row["id"],
            }
        )
    return pd.DataFrame(rows)


def migration_phases() -> pd.DataFrame:
    rows = [
        {"Phase": p["phase"], "Name": p["name"], "Step": i, "Action": step, "id": p["id"]}
        for p in offload_data()["migration_phases"]
        for i, step in enumerate(p["steps"], 1)
    ]
    return pd.DataFrame(rows)


def migration_flow() -> pd.DataFrame:
    return _frame(
        offload_data()["migration_flow"],
        {"from": "From", "question": "Question", "yes": "Yes", "no": "No", "id": "id"},
    )


def hybrid_workflow() -> pd.DataFrame:
    return _frame(offload_data()["hybrid"], {"stage": "Stage", "use_for": "Use for", "id": "id"})


def risks() -> pd.DataFrame:
    return _frame(
        offload_data()["risks"], {"side": "Side", "risk": "Risk", "detail": "Detail", "id": "id"}
    )


def audience_recommendations() -> pd.DataFrame:
    rows = [
        {"Audience": a["audience"], "Priority": i, "Recommendation": item, "id": a["id"]}
        for a in offload_data()["audiences"]
        for i, item in enumerate(a["items"], 1)
    ]
    return pd.DataFrame(rows)


def workload_recommendations() -> pd.DataFrame:
    """The "For Specific Workloads" table (its six rows), with labadvisor's complexity class."""
    entries = [
        w
        for w in offload_data()["workloads"]
        if w["section"] == "Recommendations › For Specific Workloads"
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
        deployment_data()["criteria"],
        {
            "criterion": "Criteria",
            "docker_compose": "Docker Compose",
            "k3s": "K3s (Kubernetes)",
            "id": "id",
        },
    )


def start_with() -> pd.DataFrame:
    rows = [
        {"Platform": s["platform"], "Condition": item, "id": s["id"]}
        for s in deployment_data()["start_with"]
        for item in s["items"]
    ]
    return pd.DataFrame(rows)


def migration_triggers() -> pd.DataFrame:
    rows = [
        {"Category": t["category"], "Trigger": item, "id": t["id"]}
        for t in deployment_data()["migration_triggers"]
        for item in t["items"]
    ]
    return pd.DataFrame(rows)


def migration_transfers() -> pd.DataFrame:
    rows = [
        {"Category": t["category"], "Item": item, "id": t["id"]}
        for t in deployment_data()["transfers"]
        for item in t["items"]
    ]
    return pd.DataFrame(rows)


def migration_steps() -> pd.DataFrame:
    return _frame(
        _joined(deployment_data()["migration_steps"], "details"),
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
            "Direction": r["direction"],
            "Step": i,
            "Title": s["title"],
            "Command": s["command"],
            "id": r["id"],
        }
        for r in deployment_data()["rollback"]
        for i, s in enumerate(r["steps"], 1)
    ]
    return pd.DataFrame(rows)


def trial_steps() -> pd.DataFrame:
    trial = deployment_data()["trial"]
    return pd.DataFrame(
        [{"Step": i, "Action": s, "id": trial["id"]} for i, s in enumerate(trial["steps"], 1)]
    )


def deployment_performance() -> pd.DataFrame:
    return _frame(
        deployment_data()["performance"],
        {"metric": "Metric", "docker_compose": "Docker Compose", "k3s": "K3s", "id": "id"},
    )


def deployment_costs() -> pd.DataFrame:
    return _frame(
        deployment_data()["costs"],
        {"aspect": "Aspect", "docker_compose": "Docker Compose", "k3s": "K3s", "id": "id"},
    )


def use_case_recommendations() -> pd.DataFrame:
    return _frame(
        _joined(deployment_data()["use_cases"], "points"),
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
    return _frame(deployment_data()["checklist"], {"item": "Item", "id": "id"})


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
