"""advise_deployment, table-driven: each scenario with its answer worked out by hand (the
line of the guide, the arbitration step that decides) and what the advice must say.

The arbitration (``[[arbitration]]`` in compose_vs_k3s.toml), first match decides:
needs-k3s (nodes > 1, HA, MIG/time-slicing, a trigger seen) → capacity (users >= 50, or
concurrent > ~50) → asked (prefer) → not-working (K3s failing) → where-you-are (a working
platform stays) → start-simple (Docker Compose).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labadvisor import advise_deployment
from labadvisor.deployment import DeploymentAdvice
from labadvisor.gpu.report import Status
from labadvisor.options import deployment_options


@dataclass(frozen=True)
class Summary:
    """Stands in for labadvisor.usage's LabSummary: only its attributes matter."""

    active_users: int = 40
    peak_concurrent_servers: int = 61
    p95_concurrent_servers: float = 48.0
    gpu_contention: float = 0.05
    days: int = 30


# (id, inputs, choice, deciding rule, words the advice must contain)
SCENARIOS: list[tuple[str, dict[str, Any], str, str, list[str]]] = [
    # 5 < 50 and nothing else: start-simple; the users rule decides for Compose.
    ("tiny", {"users": 5}, "docker-compose", "deploy.users", ["Docker trial"]),
    # 49 < 50: still Compose.
    ("49", {"users": 49}, "docker-compose", "deploy.users", []),
    # 50 >= 50 (the matrix's "50+ users"): capacity step, users rule.
    ("50", {"users": 50}, "k3s", "deploy.users", []),
    # 2 nodes > 1 (Compose is single node): needs-k3s beats "<10 users".
    ("two nodes", {"users": 10, "nodes": 2}, "k3s", "deploy.multi-node", []),
    # HA on 1 node: needs-k3s decides, and K3s HA wants 3 server nodes (warning).
    ("ha one node", {"users": 10, "high_availability": True}, "k3s",
     "deploy.high-availability", ["at least 3 server nodes"]),
    # MIG for 5 users: "GPU sharing → K3s" (needs-k3s) against "<10 users: Docker only".
    ("mig small", {"users": 5, "gpu_sharing": "mig"}, "k3s", "deploy.gpu-sharing",
     ["Not followed: GPU sharing (mig) needs K3s"]),
    # On K3s, 20 users, works: where-you-are keeps K3s; Compose would suffice.
    ("k3s works", {"users": 20, "current": "k3s"}, "k3s", "deploy.stay",
     ["Docker Compose would suffice", "if K3s doesn't work out"]),
    # Same with Kubernetes experience: still stays.
    ("k3s works, experienced", {"users": 20, "current": "k3s", "kubernetes_experience": True},
     "k3s", "deploy.stay", []),
    # K3s failing, 20 users, nothing needs K3s: not-working → Compose, K3s backed up first.
    ("k3s fails", {"users": 20, "current": "k3s", "current_ok": False}, "docker-compose",
     "deploy.not-working", ["Back up K3s's data", "Rollback (docker-compose → k3s)"]),
    # Asked for Compose on a working K3s of 20 users: asked comes before where-you-are.
    ("asked compose", {"users": 20, "current": "k3s", "prefer": "compose"}, "docker-compose",
     "deploy.preference", ["sudo systemctl start k3s"]),
    # Asked for Compose with 80 users: capacity (80 >= 50) comes before asked.
    ("asked compose, 80", {"users": 80, "current": "k3s", "prefer": "compose"}, "k3s",
     "deploy.users", ["Not followed: 80 users reach the guide's 50-user line"]),
    # K3s failing but HA wanted: needs-k3s decides, and the advice says to fix K3s.
    ("k3s fails, ha", {"users": 20, "current": "k3s", "current_ok": False,
                       "high_availability": True, "nodes": 3},
     "k3s", "deploy.multi-node", ["fix it rather than move"]),
    # 40 registered, 60 online at once: 60 > ~50, capacity via concurrency.
    ("60 online", {"users": 40, "concurrent_users": 60}, "k3s", "deploy.concurrency",
     ["60 users online at once; the guide puts Docker Compose's limit at about 50"]),
    # 40 registered, 50 online: 50 is "about 50", not past it; 40 < 50: Compose.
    ("50 online", {"users": 40, "concurrent_users": 50}, "docker-compose", "deploy.users",
     ["concurrent users: within it"]),
    # 120 registered, 20 online: registered 120 >= 50 decides (concurrency overridden).
    ("120 registered", {"users": 120, "concurrent_users": 20}, "k3s", "deploy.users",
     ["Not followed: 120 users reach"]),
    # Compose, 40 now, 120 next year, online unknown (all online): 12 × (50-40)/(120-40)
    # = 1.5 → month 2 for contention, plan month 1. Compose now (where-you-are).
    ("growth 40→120", {"users": 40, "expected_users": 120, "current": "compose"},
     "docker-compose", "deploy.stay", ["around month 2", "about month 1", "Memory/CPU"]),
    # 20 now (10 online), 80 next year: online share 0.5 → 40 online, under ~50; the 50
    # line at 12 × (50-20)/(80-20) = 6 → month 6, plan month 5.
    ("growth 20→80", {"users": 20, "concurrent_users": 10, "expected_users": 80},
     "docker-compose", "deploy.users", ["around month 6", "about month 5", "50-user line"]),
    # 20 → 30 next year stays under both lines: no growth note.
    ("growth under line", {"users": 20, "expected_users": 30}, "docker-compose",
     "deploy.users", []),
    # On Compose, storage I/O limits seen: the guide's trigger → migrate, parallel testing.
    ("trigger", {"users": 20, "current": "compose", "migration_triggers": ["storage-io-limits"]},
     "k3s", "deploy.triggers", ["Storage I/O limits", "8080/8443", "Migration docker-compose"]),
    # Compose not working, no trigger: Compose stays (start-simple), with the guide's
    # Docker → Previous State way out.
    ("compose fails", {"users": 20, "current": "compose", "current_ok": False},
     "docker-compose", "deploy.users", ["docker-compose down", "migration_triggers="]),
    # A small new lab that asks for K3s: asked decides (training warning for no experience).
    ("asked k3s", {"users": 10, "prefer": "k3s", "kubernetes_experience": False}, "k3s",
     "deploy.preference", ["plan for training"]),
    # On Compose with 80 users: capacity, the guide's migration and its checklist.
    ("80 on compose", {"users": 80, "current": "compose"}, "k3s", "deploy.users",
     ["Backup Everything", "4-hour maintenance window", "Parallel testing"]),
    # 201 users: beyond the guide's measured 200+ for K3s.
    ("201", {"users": 201}, "k3s", "deploy.users", ["200+ concurrent users the guide measured"]),
    # Time-slicing on one RTX 4090: K3s (needs-k3s), with the note that Compose shares it.
    ("time-slicing one gpu", {"users": 10, "gpu_sharing": "time-slicing", "gpu": "RTX 4090",
                              "gpu_count": 1},
     "k3s", "deploy.gpu-sharing", ["already share it under Docker Compose"]),
    # MIG on an A100: MIG-capable, no MIG warning.
    ("mig a100", {"users": 10, "gpu_sharing": "mig", "gpu": "NVIDIA A100-SXM4-80GB"}, "k3s",
     "deploy.gpu-sharing", []),
    # MIG on an A10 (not an A100): warned.
    ("mig a10", {"users": 10, "gpu_sharing": "mig", "gpu": "NVIDIA A10"}, "k3s",
     "deploy.gpu-sharing", ["the NVIDIA A10 is not one"]),
    # HA with 3 nodes: nodes come first in the needs list; no HA warning at 3 nodes.
    ("ha three nodes", {"users": 30, "high_availability": True, "nodes": 3}, "k3s",
     "deploy.multi-node", ["3 servers"]),
    # Measured peak 61 > ~50 (40 active users < 50): the measured concurrency decides.
    ("measured peak", {"measured": Summary()}, "k3s", "deploy.concurrency",
     ["peak 61 concurrent servers in the last 30 days", "about 50"]),
    # Measured GPU contention 40% >= 25%: the GPU scheduling conflicts trigger is seen.
    ("measured contention", {"current": "compose", "measured": Summary(
        active_users=15, peak_concurrent_servers=12, p95_concurrent_servers=8,
        gpu_contention=0.4)},
     "k3s", "deploy.triggers", ["GPU scheduling conflicts", "40% of the time"]),
    # K3s failing with 60 users: capacity needs K3s; fix it.
    ("k3s fails, 60", {"users": 60, "current": "k3s", "current_ok": False}, "k3s",
     "deploy.users", ["fix it rather than move"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "choice", "deciding", "words"),
    [pytest.param(*s[1:], id=s[0]) for s in SCENARIOS],
)
def test_scenario(inputs: dict[str, Any], choice: str, deciding: str, words: list[str]) -> None:
    advice = advise_deployment(**inputs)
    assert advice.choice == choice
    assert advice.deciding_reason.rule == deciding
    text = str(advice)
    for word in words:
        assert word in text, word
    _check_reasons(advice)


def _check_reasons(advice: DeploymentAdvice) -> None:
    effects = [r.effect for r in advice.reasons]
    assert effects.count("decided") == 1
    for reason in advice.reasons:
        if reason.effect == "overridden":
            assert reason.points_to != advice.choice
            assert "Not followed: " in reason.text  # says what it lost to
        elif reason.effect in ("decided", "supports"):
            assert reason.points_to == advice.choice
            assert "Not followed" not in reason.text
    json.dumps(advice.to_dict(), allow_nan=False)


def test_at_least_25_scenarios() -> None:
    assert len(SCENARIOS) >= 25


def test_a_working_k3s_lab_keeps_k3s_and_its_plan_never_assumes_a_docker_backup() -> None:
    staying = advise_deployment(20, current="k3s", kubernetes_experience=True)
    assert staying.choice == "k3s" and staying.migration is None
    leaving = advise_deployment(20, current="k3s", current_ok=False)
    plan = leaving.migration
    assert plan is not None
    commands = " ".join(d for s in plan.steps for d in s.details)
    assert "docker_to_k3s" not in commands  # no backup from a Docker era to restore
    # The rollback of this move goes back to K3s, not the guide's "Docker → previous state".
    assert [r["command"] for r in plan.rollback][-1] == "sudo systemctl start k3s"
    assert "postgres_backup.sql" not in str(plan)


def test_migration_to_k3s_notes_that_rolling_back_loses_what_was_written_on_k3s() -> None:
    plan = advise_deployment(80, current="compose").migration
    assert plan is not None and plan.rollback[0]["command"] == "sudo systemctl stop k3s"
    assert any("loses what was written on K3s" in note for note in plan.notes)


def test_costs_of_both_platforms_sit_beside_the_choice() -> None:
    advice = advise_deployment(20, ops_hourly_rate=60, server_monthly=100)
    compose, k3s = advice.costs["docker-compose"], advice.costs["k3s"]
    # 2-4 h/week × 4.333 weeks × $60 + 1 × $100 = $620-1,140; K3s 4-8 h: $1,140-2,180.
    assert (round(compose.low), round(compose.high)) == (620, 1140)
    assert (round(k3s.low), round(k3s.high)) == (1140, 2180)
    html = advice._repr_html_()
    head = html.index("labadvisor-platform-costs")
    assert html.index("Docker Compose") < head < html.index("<b>Why</b>")
    ha = advise_deployment(10, high_availability=True)
    assert ha.costs["k3s"].servers == 3  # K3s HA needs three server nodes


@pytest.mark.parametrize(("nodes", "phrase"), [(1, "with 1 node K3s"), (2, "with 2 nodes K3s")])
def test_ha_warning_counts_nodes_in_plain_words(nodes: int, phrase: str) -> None:
    """The warning sits below the costs in the side panel: no "(s)", no "costs below"."""
    warnings = advise_deployment(10, nodes=nodes, high_availability=True).warnings
    (warning,) = [w for w in warnings if "cannot fail over" in w]
    assert phrase in warning and "(the costs count them)" in warning, warning
    assert "node(s)" not in warning and "below" not in warning, warning


def test_measured_fills_users_and_concurrency_and_is_quoted() -> None:
    advice = advise_deployment(measured=Summary())
    assert advice.users == 40 and advice.concurrent_users == 61
    decided = advice.deciding_reason.text
    assert "peak 61 concurrent servers in the last 30 days" in decided
    assert "the guide puts Docker Compose's limit at about 50" in decided
    assert advice.measured is not None and advice.measured["peak_concurrent_servers"] == 61
    # Given figures win over measured ones.
    assert advise_deployment(10, concurrent_users=5, measured=Summary()).choice == (
        "docker-compose"
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, "give users"),
        ({"measured": object()}, "measured must have active_users"),
        ({"measured": Summary(gpu_contention=1.5)}, "gpu_contention"),
        ({"users": 5, "migration_triggers": ["slow disks"]}, "unknown migration trigger"),
        ({"users": 5, "prefer": "swarm"}, "unknown prefer 'swarm'"),
        ({"users": 5, "current_ok": "yes"}, "current_ok"),
        ({"users": 5, "concurrent_users": 0}, "concurrent_users"),
        ({"users": 5, "expected_users": -3}, "expected_users"),
        ({"users": 5, "gpu": 3}, "gpu must be None, 'auto'"),
        ({"users": 5, "gpu_count": -1}, "gpu_count"),
        ({"users": 5, "ops_hourly_rate": -1}, "ops_hourly_rate"),
    ],
)
def test_bad_input_names_the_value(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        advise_deployment(**inputs)


def test_every_trigger_option_is_accepted_by_id_and_by_label() -> None:
    for label, trigger in deployment_options()["migration_triggers"]:
        by_id = advise_deployment(20, migration_triggers=[trigger])
        assert by_id.choice == "k3s" and by_id.triggers == [trigger]
        words = label.split(" (")[0]
        assert advise_deployment(20, migration_triggers=[words]).triggers == [trigger]


@settings(max_examples=60, deadline=None)
@given(
    users=st.integers(1, 400),
    concurrent=st.none() | st.integers(1, 400),
    expected=st.none() | st.integers(1, 1000),
    nodes=st.integers(1, 5),
    ha=st.booleans(),
    sharing=st.sampled_from([None, "mig", "time-slicing"]),
    current=st.sampled_from([None, "compose", "k3s"]),
    current_ok=st.booleans(),
    prefer=st.sampled_from([None, "compose", "k3s"]),
)
def test_any_inputs_give_one_deciding_reason_and_finite_json(
    users: int,
    concurrent: int | None,
    expected: int | None,
    nodes: int,
    ha: bool,
    sharing: str | None,
    current: str | None,
    current_ok: bool,
    prefer: str | None,
) -> None:
    advice = advise_deployment(
        users,
        concurrent_users=concurrent,
        expected_users=expected,
        nodes=nodes,
        high_availability=ha,
        gpu_sharing=sharing,
        current=current,
        current_ok=current_ok,
        prefer=prefer,
    )
    _check_reasons(advice)
    if current == "k3s" and current_ok and prefer != "compose":
        assert advice.choice == "k3s"  # a working K3s is never sent back unasked


def test_gpu_auto_checks_the_detected_gpus_for_mig(monkeypatch: pytest.MonkeyPatch) -> None:
    from labadvisor import gpu
    from labadvisor.gpu import GpuDevice, GpuReport

    def one(name: str) -> GpuReport:
        return GpuReport(status="ok", message="1 GPU", devices=(GpuDevice(index=0, name=name),))

    monkeypatch.setattr(gpu, "detect", lambda: one("NVIDIA GeForce RTX 4090"))
    advice = advise_deployment(10, gpu_sharing="mig", gpu="auto")
    assert any("the NVIDIA GeForce RTX 4090 is not one" in w for w in advice.warnings)
    sliced = advise_deployment(10, gpu_sharing="time-slicing", gpu="auto")
    assert any("already share it under Docker Compose" in w for w in sliced.warnings)
    monkeypatch.setattr(gpu, "detect", lambda: one("NVIDIA H100 80GB HBM3"))
    assert not any(
        "MIG" in w for w in advise_deployment(10, gpu_sharing="mig", gpu="auto").warnings
    )


@pytest.mark.parametrize(
    ("status", "message", "devices"),
    [
        ("library-not-found", "NVIDIA's NVML library was not found", ()),
        ("no-devices", "NVML found no GPUs", ()),
    ],
)
def test_gpu_auto_that_finds_no_gpu_says_mig_was_not_checked(
    monkeypatch: pytest.MonkeyPatch, status: Status, message: str, devices: tuple[()]
) -> None:
    # issue 11: MIG asked, gpu="auto", nothing detected: the check could not run, and the
    # advice says so (silence would read as "this GPU supports MIG").
    from labadvisor import gpu
    from labadvisor.gpu import GpuReport

    report = GpuReport(status=status, message=message, devices=devices)
    monkeypatch.setattr(gpu, "detect", lambda: report)
    advice = advise_deployment(20, gpu_sharing="mig", gpu="auto")
    unchecked = [w for w in advice.warnings if "MIG support could not be checked" in w]
    assert len(unchecked) == 1
    assert unchecked[0].startswith("No GPU detected here")
    assert "gpu=..." in unchecked[0] and "A100" in unchecked[0] and message in unchecked[0]
    assert unchecked[0] in str(advice) and unchecked[0] in advice.to_dict()["warnings"]
    # Only where MIG was asked, and only where detection was asked.
    assert not any(
        "could not be checked" in w
        for w in advise_deployment(20, gpu_sharing="time-slicing", gpu="auto").warnings
    )
    assert not any(
        "could not be checked" in w
        for w in advise_deployment(20, gpu_sharing="mig", gpu="A100").warnings
    )


def test_a_broken_k3s_kept_because_asked_warns_with_the_request() -> None:
    # Found by the property test: K3s broken, nothing needs it, but prefer="k3s".
    advice = advise_deployment(1, current="k3s", current_ok=False, prefer="k3s")
    assert advice.choice == "k3s"
    assert any("your request (prefer='k3s') needs K3s" in w for w in advice.warnings)
