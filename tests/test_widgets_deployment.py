"""The deployment panel takes advise_deployment's inputs (concurrent and expected users,
migration triggers, the GPU, whether the platform in use works, operations prices) and shows
the advice with its platform costs and plan steps: driven as a user would (widget values,
then the state and the rendered HTML)."""

from __future__ import annotations

import html
import re

import ipywidgets as w
import pytest

from labadvisor import advise_deployment
from labadvisor.guides import deployment_guide
from labadvisor.options import deployment_options
from labadvisor.widgets._html import DOLLAR, escape_dollars
from labadvisor.widgets.deployment_state import DeploymentState
from labadvisor.widgets.deployment_view import DeploymentPanel


def _text(markup: str) -> str:
    """What a person reads in widget HTML: tags removed, entities decoded, spaces folded."""
    markup = markup.replace(DOLLAR, "$")
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())


ALL_INPUTS = {
    "users": 40,
    "concurrent_users": 30,
    "expected_users": 120,
    "nodes": 2,
    "high_availability": False,
    "gpu_sharing": "time-slicing",
    "gpu": "RTX 4090",
    "gpu_count": 1,
    "migration_triggers": ["storage-io-limits"],
    "kubernetes_experience": False,
    "current": "docker-compose",
    "current_ok": True,
    "prefer": None,
    "ops_hourly_rate": 80.0,
    "server_monthly": 120.0,
}


def test_the_state_passes_every_input_of_advise_deployment_but_measured():
    state = DeploymentState(**ALL_INPUTS)
    assert set(state.input_names) == set(ALL_INPUTS)
    assert state.error is None
    assert state.advice.to_dict() == advise_deployment(**ALL_INPUTS).to_dict()


def test_the_defaults_are_the_apis():
    state = DeploymentState()
    assert state.advice.to_dict() == advise_deployment(20).to_dict()
    operations = deployment_guide().operations_defaults
    assert (state.ops_hourly_rate, state.server_monthly) == (
        operations.hourly_rate,
        operations.server_monthly,
    )


def test_a_lab_on_k3s_that_works_stays_and_one_that_does_not_gets_the_way_back():
    panel = DeploymentPanel(users=20, current="k3s")
    assert panel.state.advice.choice == "k3s" and panel.state.advice.migration is None
    assert panel.rows["current_ok"].layout.display is None  # asked: there is a platform
    assert "labadvisor-migration" not in panel.advice.value

    panel.controls["current_ok"].value = False
    advice = panel.state.advice
    assert advice.choice == "docker-compose"
    assert (advice.migration.source, advice.migration.target) == ("k3s", "docker-compose")
    shown = _text(panel.advice.value)
    # The rollback undoes this move: back to K3s, not the Docker-era "K3s → Docker" one.
    assert "Rollback (docker-compose → k3s)" in shown
    assert "Rollback (k3s → docker-compose)" not in shown
    assert panel.advice.value == escape_dollars(advice._repr_html_())
    # The guide does not time the steps of leaving K3s: no "-" or empty Time column.
    assert "Time" not in shown and " - " not in shown
    assert "1 Back up K3s's data sudo mkdir" in shown


def test_current_works_is_asked_only_where_a_platform_runs():
    panel = DeploymentPanel(users=20)
    assert panel.rows["current_ok"].layout.display == "none"
    panel.controls["current"].value = "docker-compose"
    assert panel.rows["current_ok"].layout.display is None
    panel.state.current = None
    assert panel.rows["current_ok"].layout.display == "none"


def test_a_growing_compose_lab_stays_on_compose_and_is_told_when_to_plan():
    panel = DeploymentPanel(users=40, current="compose")
    panel.controls["expected_users"].value = 120
    assert panel.state.expected_users == 120
    advice = panel.state.advice
    assert advice.choice == "docker-compose" and advice.migration is None
    assert (
        advice.to_dict() == advise_deployment(40, current="compose", expected_users=120).to_dict()
    )
    shown = _text(panel.advice.value)
    assert "120 users expected within a year: Docker Compose now" in shown
    assert "will likely fire first" in shown
    # The plan step, from the advice's own HTML.
    assert "Next steps" in shown and "Plan the move to K3s for about month" in shown
    assert "labadvisor-next-steps" in panel.advice.value


def test_a_new_lab_is_offered_the_trial_and_a_migration_the_parallel_test():
    panel = DeploymentPanel(users=20)
    assert "Docker trial (2-4 weeks)" in _text(panel.advice.value)
    panel.controls["users"].value = 80
    panel.controls["current"].value = "docker-compose"
    shown = _text(panel.advice.value)
    assert "Parallel testing: K3s on ports 8080/8443 beside Docker on 80/443" in shown
    assert "Docker trial" not in shown


def test_the_platform_costs_follow_the_operations_prices():
    panel = DeploymentPanel(users=20)
    before = panel.state.advice.costs
    assert "labadvisor-platform-costs" in panel.advice.value
    for cost in before.values():
        assert cost.text in _text(panel.advice.value)
    panel.controls["ops_hourly_rate"].value = 100
    panel.controls["server_monthly"].value = 0
    after = panel.state.advice.costs
    assert after["k3s"].hourly_rate == 100 and after["k3s"].server_monthly == 0
    assert after["docker-compose"].high > before["docker-compose"].high
    shown = _text(panel.advice.value)
    assert "at $100/h" in shown and "at $50/h" not in shown
    # The chosen platform's cost is the marked one.
    assert "data-chosen='true'" in panel.advice.value


def test_migration_triggers_are_picked_by_the_guides_labels():
    panel = DeploymentPanel(users=20)
    picker = panel.controls["migration_triggers"]
    assert list(picker.options) == deployment_options()["migration_triggers"]
    labels = dict(picker.options)
    failover = next(label for label in labels if labels[label] == "automatic-failover")
    picker.label = (failover,)
    assert panel.state.migration_triggers == ["automatic-failover"]
    assert panel.state.advice.choice == "k3s"
    assert panel.state.advice.triggers == ["automatic-failover"]
    # Given in code by label, the state keeps the id and the picker shows it.
    guide_label = deployment_guide().triggers["gpu-scheduling-conflicts"].label
    panel.state.set(migration_triggers=[guide_label])
    assert panel.state.migration_triggers == ["gpu-scheduling-conflicts"]
    assert picker.value == ("gpu-scheduling-conflicts",)
    picker.value = ()
    assert panel.state.migration_triggers == [] and panel.state.advice.choice == "docker-compose"


def test_every_trigger_is_a_whole_checkbox_in_the_view():
    """Walkthrough: a multi-select box cut the labels at its width ("Advanced GPU sharing
    (MIG, time-slicin") and hid the 9th trigger past its rows."""
    panel = DeploymentPanel(users=20)
    picker = panel.controls["migration_triggers"]
    boxes = [box for box in picker.children if isinstance(box, w.Checkbox)]
    triggers = deployment_options()["migration_triggers"]
    assert len(boxes) == len(triggers) == 9
    assert picker in panel.rows.values()
    assert picker.layout.height is None and picker.layout.max_height is None
    for box in boxes:
        assert box.layout.width == "auto" and box.style.description_width == "initial"
        # The group heading carries the category, so the label is the guide's short one.
        assert len(box.description) <= 45, box.description
    headings = _text("".join(c.value for c in picker.children if isinstance(c, w.HTML)))
    assert "Feature requirements" in headings and "Scaling needs" in headings
    shown = {box.description for box in boxes}
    assert {label.rsplit(" (", 1)[0] for label, _ in triggers} == shown
    # Ticking a box is picking the trigger, and the state's choice ticks the box.
    failover = picker.boxes["automatic-failover"]
    failover.value = True
    assert panel.state.migration_triggers == ["automatic-failover"]
    panel.state.set(migration_triggers=["more-gpus", "automatic-failover"])
    assert [v for v, box in picker.boxes.items() if box.value] == [
        "more-gpus",
        "automatic-failover",
    ]
    failover.value = False
    assert panel.state.migration_triggers == ["more-gpus"]


def test_the_gpu_models_placeholder_fits_its_box():
    box = DeploymentPanel(users=20).controls["gpu"]
    assert "auto" in box.placeholder and len(box.placeholder) <= 30, box.placeholder


def test_an_unknown_trigger_is_the_libraries_message():
    panel = DeploymentPanel(users=20)
    panel.state.set(migration_triggers=["the moon"])
    assert "unknown migration trigger 'the moon'" in _text(panel.error.value)
    assert panel.advice.value == ""


def test_unstated_counts_show_as_zero_and_zero_means_not_stated():
    panel = DeploymentPanel(users=40)
    for name in ("concurrent_users", "expected_users"):
        assert getattr(panel.state, name) is None and panel.controls[name].value == 0
        assert "0: not known" in _text("".join(c.value for c in panel.rows[name].children[2:]))
    panel.controls["concurrent_users"].value = 60
    # 60 online at once is past Compose's ~50, though only 40 are registered.
    assert panel.state.advice.concurrent_users == 60
    assert panel.state.advice.choice == "k3s"
    panel.controls["concurrent_users"].value = 0
    assert panel.state.concurrent_users is None and panel.state.advice.concurrent_users is None
    assert panel.state.advice.choice == "docker-compose"


def test_the_gpu_model_is_typed_or_auto_and_checked_for_mig():
    panel = DeploymentPanel(users=20, gpu_sharing="mig")
    box = panel.controls["gpu"]
    assert "auto" in box.options and "A100" in box.options
    box.value = "RTX 4090"
    assert panel.state.gpu == "RTX 4090"
    assert "the RTX 4090 is not one" in _text(panel.advice.value)
    box.value = "A100"
    assert not any("MIG needs" in warning for warning in panel.state.advice.warnings)
    box.value = "  "
    assert panel.state.gpu is None


def test_time_slicing_on_one_gpu_and_ha_on_one_node_are_warned():
    panel = DeploymentPanel(users=20, gpu_sharing="time-slicing")
    panel.controls["gpu_count"].value = 1
    assert "containers on one GPU already share it" in _text(panel.advice.value)
    panel.controls["high_availability"].value = True
    shown = _text(panel.advice.value)
    assert "needs at least 3 server nodes" in shown and "with 1 node K3s" in shown


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("concurrent_users", -1, "Online at once must be between 1 and 100,000; got -1"),
        ("expected_users", 200_000, "Users next year must be between 1 and 100,000; got 200,000"),
        ("ops_hourly_rate", -5, "Ops rate (USD/h) must be between 0 and 10,000; got -5"),
        ("server_monthly", -1, "Server (USD/month) must be between 0 and 1,000,000; got -1"),
    ],
)
def test_new_numbers_out_of_range_are_named_by_their_labels(name, typed, message):
    panel = DeploymentPanel(users=20)
    advice = panel.state.advice
    panel.controls[name].value = typed
    assert panel.state.field_errors == {name: message}
    assert _text(panel.field_errors[name].value) == message
    assert panel.controls[name].description == message.split(" must ")[0]
    assert panel.state.advice is advice


def test_a_price_left_as_none_is_the_guides_and_shown_as_it():
    # None is what a state holds while the guide cannot be read (building never raises for
    # that); advising then uses the guide's value and the state takes it.
    state = DeploymentState(users=20, ops_hourly_rate=None, server_monthly=None)
    operations = deployment_guide().operations_defaults
    assert state.field_errors == {} and state.error is None
    assert (state.ops_hourly_rate, state.server_monthly) == (
        operations.hourly_rate,
        operations.server_monthly,
    )
    panel = DeploymentPanel(state)
    assert panel.controls["ops_hourly_rate"].value == operations.hourly_rate
