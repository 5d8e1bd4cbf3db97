"""Reason effects: one deciding reason, overridden ones shown apart, bad effects refused."""

from __future__ import annotations

import pytest

from labadvisor import advise_deployment, advise_runtime
from labadvisor.explain import NOT_FOLLOWED_HEADING, Advice, Reason, settle


def _reasons() -> list[Reason]:
    return [
        Reason("a", "A points to x", "guide › a", points_to="x", effect="supports"),
        Reason("b", "B is context", "guide › b"),
        Reason("c", "C points to y", "guide › c", points_to="y", effect="supports"),
        Reason("d", "D points to y too", "guide › d", points_to="y", effect="supports"),
    ]


def test_settle_marks_decided_supports_overridden_and_info() -> None:
    settled = settle(_reasons(), "y", deciding="d")
    assert [r.effect for r in settled] == ["overridden", "info", "supports", "decided"]
    first = settle(_reasons(), "y")
    assert [r.effect for r in first] == ["overridden", "info", "decided", "supports"]


def test_settle_refuses_a_choice_no_reason_pointed_to() -> None:
    with pytest.raises(ValueError, match="no reason decided 'z'"):
        settle(_reasons(), "z")


@pytest.mark.parametrize(
    ("effect", "points_to"), [("maybe", "x"), ("info", "x"), ("decided", None)]
)
def test_reason_refuses_inconsistent_effects(effect: str, points_to: str | None) -> None:
    with pytest.raises(ValueError, match="effect"):
        Reason("r", "t", "s", effect=effect, points_to=points_to)  # type: ignore[arg-type]


def test_rendering_puts_the_deciding_reason_first_and_overridden_ones_apart() -> None:
    advice = Advice("y", "Option Y", reasons=settle(_reasons(), "y", deciding="d"))
    text = str(advice)
    why, not_followed = text.split(NOT_FOLLOWED_HEADING)
    assert why.index("D points to y too") < why.index("B is context") < why.index("C points")
    assert "A points to x" in not_followed and "pointed to x" in not_followed
    html = advice._repr_html_()
    assert html.index("D points to y too") < html.index("B is context")
    assert html.index("Not followed") < html.index("A points to x")
    assert "data-effect='overridden'" in html
    assert advice.deciding_reason.rule == "d"


@pytest.mark.parametrize(
    "advice",
    [
        advise_deployment(10),
        advise_deployment(10, nodes=3),
        advise_deployment(80, current="compose"),
        advise_deployment(10, current="k3s", kubernetes_experience=True),
        advise_runtime(13, gpu=None),
        advise_runtime(0.5, gpu=None, workload="code-review"),
    ],
)
def test_every_advice_has_exactly_one_deciding_reason(advice: Advice) -> None:
    assert [r.effect for r in advice.reasons].count("decided") == 1
    assert advice.deciding_reason.points_to == advice.choice
    for reason in advice.reasons:
        if reason.effect == "overridden":
            assert reason.points_to != advice.choice
        elif reason.effect != "info":
            assert reason.points_to == advice.choice


def test_deployment_override_names_the_rule_that_lost() -> None:
    advice = advise_deployment(10, nodes=3)
    effects = {r.rule: r.effect for r in advice.reasons}
    assert effects["deploy.users"] == "overridden"
    assert effects["deploy.multi-node"] == "decided"


def test_the_printed_header_names_the_choice_once() -> None:
    from labadvisor import advise_deployment, advise_runtime

    runtime = advise_runtime(13, gpu=None, workload="code-generation")
    assert runtime.choice == "offload"
    assert str(runtime).splitlines()[0] == f"Runtime advice: {runtime.choice_label}"
    deployment = advise_deployment(80)
    assert str(deployment).splitlines()[0] == f"Deployment advice: {deployment.choice_label}"
