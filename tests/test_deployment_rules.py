"""advise_deployment: the Compose/K3s rules at their boundaries, migrations, bad input."""

from __future__ import annotations

import json

import pytest

from labadvisor import advise_deployment


def rules(advice) -> list[str]:
    return [r.rule for r in advice.reasons]


@pytest.mark.parametrize(
    ("users", "choice"),
    [(1, "docker-compose"), (49, "docker-compose"), (50, "k3s"), (51, "k3s"), (500, "k3s")],
)
def test_user_threshold(users: int, choice: str) -> None:
    advice = advise_deployment(users)
    assert advice.choice == choice
    assert advice.reasons[0].rule == "deploy.users"


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"nodes": 2}, "deploy.multi-node"),
        ({"high_availability": True}, "deploy.high-availability"),
        ({"gpu_sharing": "mig"}, "deploy.gpu-sharing"),
        ({"gpu_sharing": "Time Slicing"}, "deploy.gpu-sharing"),
    ],
)
def test_k3s_features_force_k3s_for_small_labs(kwargs: dict, rule: str) -> None:
    advice = advise_deployment(10, **kwargs)
    assert advice.choice == "k3s"
    assert rule in rules(advice)


def test_single_node_small_lab_starts_with_compose() -> None:
    advice = advise_deployment(20, nodes=1, gpu_sharing=None)
    assert advice.choice == "docker-compose"
    assert "deploy.start-simple" in rules(advice)
    assert "usecase.research-lab" in rules(advice)


def test_k3s_without_experience_warns_about_training_and_operations() -> None:
    advice = advise_deployment(80, kubernetes_experience=False)
    assert advice.choice == "k3s"
    assert any("training" in w and "4-8 hours/week" in w for w in advice.warnings)
    assert not advise_deployment(80, kubernetes_experience=True).warnings


def test_experience_alone_does_not_pick_k3s() -> None:
    advice = advise_deployment(10, kubernetes_experience=True)
    assert advice.choice == "docker-compose"
    assert "deploy.k8s-experience" in rules(advice)


def test_use_cases_by_user_count() -> None:
    assert advise_deployment(5).use_cases == ["usecase.personal"]
    assert advise_deployment(30).use_cases == ["usecase.research-lab"]
    assert advise_deployment(40).use_cases == []
    assert advise_deployment(100).use_cases == ["usecase.university", "usecase.enterprise"]
    assert advise_deployment(150).use_cases == ["usecase.enterprise"]


def test_very_large_lab_warns_beyond_measured_capacity() -> None:
    assert any("200+" in w for w in advise_deployment(201).warnings)
    assert not advise_deployment(200).warnings


def test_migration_plan_from_compose() -> None:
    advice = advise_deployment(80, current="Docker Compose")
    plan = advice.migration
    assert plan is not None and (plan.source, plan.target) == ("docker-compose", "k3s")
    assert [s.title for s in plan.steps] == [
        "Backup Everything",
        "Install K3s",
        "Data Migration",
        "Verification",
    ]
    assert [s.duration for s in plan.steps] == ["30 min", "1 h-2 h", "30 min-1 h", "30 min"]
    assert plan.stated_total_hours == (3.0, 4.0)
    assert plan.steps_total_minutes == (150, 240)
    assert len(plan.checklist) == 6
    assert plan.rollback[0]["command"] == "sudo systemctl stop k3s"
    assert "deploy.migrate" in rules(advice)
    assert json.loads(json.dumps(advice.to_dict()))["migration"]["stated_total_hours"] == [3.0, 4.0]
    assert "Migration docker-compose → k3s" in str(advice)


def test_rollback_plan_from_k3s_and_no_plan_when_staying() -> None:
    # issue 11: a small lab whose K3s works stays on K3s; it moves back to Docker Compose
    # when K3s does not work (or when asked), and the move first backs up K3s's own data
    # (there is no docker_to_k3s backup), then stops K3s.
    back = advise_deployment(10, current="k3s", current_ok=False)
    assert back.choice == "docker-compose"
    assert back.migration is not None and back.migration.target == "docker-compose"
    assert back.migration.steps[0].title == "Back up K3s's data"
    assert back.migration.steps[1].details == ["sudo systemctl stop k3s"]
    staying = advise_deployment(10, current="k3s")
    assert staying.choice == "k3s" and staying.migration is None
    assert advise_deployment(80, current="k3s").migration is None
    assert advise_deployment(10, current="compose").migration is None


def test_steps_the_guide_does_not_time_show_no_duration() -> None:
    # issue 11: the guide times the Docker → K3s steps but none of the K3s → Compose ones;
    # an untimed step shows no "(-)" or empty parentheses in any rendering.
    advice = advise_deployment(20, current="k3s", current_ok=False)
    plan = advice.migration
    assert plan is not None and all(s.duration is None for s in plan.steps)
    text = str(advice)
    assert "1. Back up K3s's data\n" in text and "2. Stop K3s\n" in text
    assert "(-)" not in text and "()" not in text and "(None)" not in text
    assert str(plan) in text
    markup = plan._repr_html_()
    assert "<th>Time</th>" not in markup and "<td>-</td>" not in markup
    assert "<td>None</td>" not in markup
    assert "<tr><td>2</td><td>Stop K3s</td><td>sudo systemctl stop k3s</td></tr>" in markup
    shown = json.loads(json.dumps(advice.to_dict()))["migration"]["steps"]
    assert [s["duration"] for s in shown] == [None] * len(plan.steps)
    # The guide's timed steps keep their Time column.
    timed = advise_deployment(80, current="compose").migration
    assert timed is not None and "<th>Time</th><th>Details</th>" in timed._repr_html_()
    assert "<td>30 min</td>" in timed._repr_html_()
    assert "1. Backup Everything (30 min)" in str(timed)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "users must be a whole number, at least 1; got 0"),
        ({"users": 2.5}, "users"),
        ({"users": True}, "users"),
        ({"users": 5, "nodes": 0}, "nodes"),
        (
            {"users": 5, "gpu_sharing": "vgpu"},
            "unknown gpu_sharing 'vgpu'; valid values: None, mig, time-slicing",
        ),
        (
            {"users": 5, "current": "swarm"},
            "unknown current 'swarm'; valid platforms: docker-compose",
        ),
        ({"users": 5, "high_availability": "yes"}, "high_availability"),
        ({"users": 5, "kubernetes_experience": "some"}, "kubernetes_experience"),
    ],
)
def test_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        advise_deployment(**kwargs)
