"""Golden tests: every table of both guides, reproduced from the packaged data.

Expected values are copied from the guides' text: a data edit that drifts from a guide fails.
"""

from __future__ import annotations

import pandas as pd
import pytest

from labadvisor import matrices


def test_offload_comparison_matrix_matches_guide() -> None:
    df = matrices.offload_comparison()
    expected = [
        ("Performance", "Startup Time", "30-60 seconds", "2-3 minutes", "Local"),
        ("Performance", "Inference Speed", "1-2 seconds", "3-5 seconds", "Local"),
        (
            "Performance",
            "Model Quality",
            "Basic (70% accuracy)",
            "Advanced (95% accuracy)",
            "Offload",
        ),
        ("Performance", "Context Length", "512 tokens", "4096+ tokens", "Offload"),
        ("Resources", "Memory Usage", "2-4GB RAM", "15-23GB GPU VRAM", "-"),
        ("Resources", "Hardware Cost", "$0 (existing)", "~$0.50-2/hour", "Local"),
        ("Resources", "Setup Complexity", "Medium", "Low", "Offload"),
        ("Development", "Iteration Speed", "Very Fast", "Fast", "Local"),
        ("Development", "Debugging", "Full Control", "Limited", "Local"),
        ("Development", "Team Consistency", "Variable", "Uniform", "Offload"),
        ("Scalability", "Multi-user Support", "Limited", "Excellent", "Offload"),
        ("Scalability", "Resource Scaling", "Manual", "Automatic", "Offload"),
        ("Scalability", "Global Access", "No", "Yes", "Offload"),
    ]
    cols = ["Category", "Factor", "Local Development", "Docker Offload", "Winner"]
    assert [tuple(r) for r in df[cols].itertuples(index=False)] == expected


def test_cost_breakeven_table_is_computed_like_the_guide() -> None:
    df = matrices.cost_breakeven().set_index("Usage Level")
    assert list(df.index) == ["Light (2h/day)", "Regular (6h/day)", "Heavy (8h/day)", "Team of 5"]
    assert df.loc["Light (2h/day)", ["Local (Monthly)", "Offload low (Monthly)"]].tolist() == [
        75,
        30,
    ]
    assert df.loc["Regular (6h/day)", ["Local (Monthly)", "Offload low (Monthly)"]].tolist() == [
        75,
        90,
    ]
    assert df.loc["Heavy (8h/day)", ["Local (Monthly)", "Offload low (Monthly)"]].tolist() == [
        75,
        120,
    ]
    team = df.loc["Team of 5"]
    assert (
        team["Local (Monthly)"],
        team["Offload low (Monthly)"],
        team["Offload high (Monthly)"],
    ) == (
        375,
        150,
        450,
    )
    assert df["Breakeven Point"].tolist() == [
        "Offload wins",
        "Local wins",
        "Local wins",
        "Depends on usage",
    ]


def test_usage_scenarios_keep_the_guides_stated_figures() -> None:
    df = matrices.usage_scenarios().set_index("Scenario")
    assert df["Guide (USD/month)"].tolist() == [30, 90, 300]
    # Light and regular agree with the model; heavy is a documented disagreement.
    assert df["Model (USD/month)"].tolist()[:2] == [30, 90]


def test_workload_recommendations_match_guide() -> None:
    df = matrices.workload_recommendations()
    assert [
        tuple(r)
        for r in df[["Workload Type", "Recommendation", "Reasoning"]].itertuples(index=False)
    ] == [
        ("Code Completion", "Local", "Fast response, adequate quality"),
        ("Code Generation", "Docker Offload", "Requires large models"),
        ("Code Review", "Docker Offload", "Complex analysis needed"),
        ("Documentation", "Local/Offload", "Depends on complexity"),
        ("Refactoring", "Docker Offload", "Large context understanding"),
        ("Testing", "Local", "Fast iteration important"),
    ]


def test_decision_tree_matches_guide() -> None:
    df = matrices.decision_tree()
    sizes = df[df["decision"] == "Model size"]
    assert sizes["branch"].tolist() == [
        "Small Models (< 1GB)",
        "Medium Models (1-7GB)",
        "Large Models (> 7GB)",
    ]
    assert sizes["with local GPU"].tolist() == ["Local CPU", "Local GPU", "Docker Offload"]
    assert sizes["without local GPU"].tolist() == ["Local CPU", "Docker Offload", "Docker Offload"]
    work = df[df["decision"] == "Workload complexity"]
    assert work["with local GPU"].tolist() == [
        "Local Development",
        "Docker Offload",
        "Docker Offload",
    ]


def test_cost_detail_tables() -> None:
    hw = matrices.hardware_costs().set_index("Item")
    assert hw.loc["GPU (RTX 4090)"].tolist()[:2] == [1500, 2000]
    assert hw.loc["Additional RAM"].tolist()[:2] == [200, 500]
    assert hw.loc["Total upfront"].tolist()[:2] == [2000, 2000]
    ops = matrices.operational_costs().set_index("Item")
    assert ops.loc["Electricity", ["Low", "High"]].tolist() == [50, 100]
    assert ops.loc["Monthly", "Low"] == 75
    ppu = matrices.pay_per_use().set_index("Item")
    assert ppu.loc["NVIDIA L4 instance", ["Low", "High"]].tolist() == [0.5, 2.0]
    assert ppu.loc["Storage", "Low"] == 0.1


def test_offload_guide_lists() -> None:
    scenarios = matrices.use_case_scenarios()
    assert scenarios.groupby("Ideal for").size().to_dict() == {"local": 4, "offload": 4}
    assert "CodeLlama-34B, GPT-3.5/4 equivalents" in scenarios["Model"].tolist()
    phases = matrices.migration_phases()
    assert phases.groupby("Phase").size().tolist() == [4, 4, 4]
    assert phases.iloc[0]["Action"] == "Prototype with small models (CodeT5-small, GPT-2)"
    risks = matrices.risks()
    assert risks.groupby("Side").size().to_dict() == {"local": 4, "offload": 4}
    assert "Code sent to cloud infrastructure" in risks["Detail"].tolist()
    audiences = matrices.audience_recommendations()
    assert audiences.groupby("Audience", sort=False).size().tolist() == [3, 3, 4]
    assert matrices.hybrid_workflow()["Stage"].tolist() == ["Local", "Offload", "Production"]
    assert matrices.migration_flow()["Question"].tolist() == [
        "Model Size Growing?",
        "Production Ready?",
    ]


def test_deployment_criteria_matches_guide() -> None:
    df = matrices.deployment_criteria()
    assert [
        tuple(r)
        for r in df[["Criteria", "Docker Compose", "K3s (Kubernetes)"]].itertuples(index=False)
    ] == [
        ("User Count", "1-50 users", "50+ users"),
        ("Setup Time", "30 minutes", "2-3 hours"),
        ("Complexity", "Low", "Medium-High"),
        ("GPU Efficiency", "Good", "Excellent"),
        ("Scalability", "Single node", "Multi-node"),
        ("Migration", "→ Can upgrade to K3s", "← Can downgrade to Docker"),
    ]


def test_deployment_performance_and_costs() -> None:
    perf = matrices.deployment_performance().set_index("Metric")
    assert perf.loc["GPU Utilization"].tolist()[:2] == ["85-90%", "95-98% (with MIG)"]
    assert perf.loc["Container/Pod Startup"].tolist()[:2] == ["10-30 seconds", "20-40 seconds"]
    assert perf.loc["API Latency"].tolist()[:2] == ["50-100ms", "30-80ms"]
    assert perf.loc["Max Concurrent Users"].tolist()[:2] == ["~50", "200+"]
    costs = matrices.deployment_costs().set_index("Aspect")
    assert costs.loc["Operational"].tolist()[:2] == ["2-4 hours/week", "4-8 hours/week"]
    assert costs.loc["Training"].tolist()[:2] == ["Minimal", "Kubernetes knowledge required"]


def test_use_case_recommendations_match_guide() -> None:
    df = matrices.use_case_recommendations()
    assert [
        tuple(r) for r in df[["Use case", "Users", "Recommendation"]].itertuples(index=False)
    ] == [
        ("Personal/Small Team", "<10 users", "Docker only"),
        ("Research Lab", "10-30 users", "Start with Docker"),
        ("University Department", "50-100 users", "Start with K3s"),
        ("Enterprise", "100+ users", "K3s required"),
    ]


def test_migration_tables_match_guide() -> None:
    steps = matrices.migration_steps()
    assert steps["Title"].tolist() == [
        "Backup Everything",
        "Install K3s",
        "Data Migration",
        "Verification",
    ]
    assert steps["Min (minutes)"].tolist() == [30, 60, 30, 30]
    assert steps["Max (minutes)"].tolist() == [30, 120, 60, 30]
    assert matrices.migration_checklist()["Item"].tolist() == [
        "Current deployment stable for 2+ weeks",
        "Backup procedures tested",
        "Users notified of maintenance window",
        "DNS changes planned",
        "Rollback plan documented",
        "4-hour maintenance window scheduled",
    ]
    assert matrices.migration_triggers().groupby("Category", sort=False).size().tolist() == [
        3,
        3,
        3,
    ]
    assert matrices.migration_transfers().groupby("Category", sort=False).size().tolist() == [
        4,
        4,
        3,
        2,
    ]
    rollback = matrices.rollback_steps()
    assert rollback.iloc[0]["Command"] == "sudo systemctl stop k3s"
    assert len(rollback) == 6
    assert len(matrices.trial_steps()) == 5
    start = matrices.start_with()
    assert start.groupby("Platform").size().to_dict() == {"docker-compose": 5, "k3s": 5}


@pytest.mark.parametrize("name", list(matrices.all_tables()))
def test_every_table_is_a_non_empty_frame_with_ids(name: str) -> None:
    df = matrices.all_tables()[name]
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert "id" in df.columns and df["id"].notna().all()
