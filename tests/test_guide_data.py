"""The packaged data itself: ids, sections, and user overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import labadvisor
from labadvisor import guides


@pytest.fixture(autouse=True)
def clean_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("LABADVISOR_CONFIG", str(tmp_path / "absent.toml"))
    guides.configure(reset=True)
    yield
    guides.configure(reset=True)


def _entries(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if "id" in node:
            found.append(node)
        for value in node.values():
            found += _entries(value)
    elif isinstance(node, list):
        for value in node:
            found += _entries(value)
    return found


@pytest.mark.parametrize("name", ["offload-vs-local", "compose-vs-k3s"])
def test_every_entry_has_a_unique_id_and_a_section(name: str) -> None:
    data = guides.load(name)
    entries = [e for e in _entries(data) if e is not data["guide"]]
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert all(e.get("section") for e in entries), [
        e["id"] for e in entries if not e.get("section")
    ]


def test_configure_overrides_rate_and_restores_on_reset() -> None:
    labadvisor.configure({"offload-vs-local": {"costs": {"defaults": {"offload_rate": 1.0}}}})
    assert labadvisor.breakeven_hours_per_day() == pytest.approx(2.5)
    labadvisor.configure(reset=True)
    assert labadvisor.breakeven_hours_per_day() == pytest.approx(5.0)


def test_configure_overrides_a_tier_by_id() -> None:
    assert labadvisor.advise_runtime(9, gpu=True).choice == "offload"
    labadvisor.configure(
        {
            "offload-vs-local": {
                "size_tiers": [
                    {"id": "size.medium", "up_to_gb": 10.0},
                    {"id": "size.large", "above_gb": 10.0},
                ]
            }
        }
    )
    assert labadvisor.advise_runtime(9, gpu=True).choice == "local-gpu"


def test_bad_override_is_rejected_and_changes_nothing() -> None:
    labadvisor.configure({"offload-vs-local": {"costs": {"defaults": {"local_monthly": 100.0}}}})
    bad_overrides: list[tuple[dict[str, Any], str]] = [
        ({"offload-vs-local": {"costs": {"defaults": {"offload_rte": 1.0}}}}, "offload_rate"),
        ({"offload-vs-local": {"costs": {"defaults": {"offload_rate": "cheap"}}}}, "'cheap'"),
        (
            {"offload-vs-local": {"size_tiers": [{"id": "size.huge", "from_gb": 1.0}]}},
            "size.medium",
        ),
        ({"offload-vs-locl": {}}, "compose-vs-k3s"),
    ]
    for bad, message in bad_overrides:
        with pytest.raises(ValueError, match=message):
            labadvisor.configure(bad)
    assert labadvisor.monthly_costs(0).local == 100.0  # the earlier override still holds


def test_override_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[compose-vs-k3s.rules.users]\nk3s_from_users = 80\n")
    monkeypatch.setenv("LABADVISOR_CONFIG", str(config))
    guides.configure(reset=True)
    assert labadvisor.advise_deployment(60).choice == "docker-compose"
    assert labadvisor.advise_deployment(80).choice == "k3s"


def test_broken_override_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[offload-vs-local\n")
    monkeypatch.setenv("LABADVISOR_CONFIG", str(config))
    guides.configure(reset=True)
    with pytest.raises(ValueError, match=r"config\.toml"):
        labadvisor.monthly_costs(2)


def test_unknown_ids_in_guide_lists_are_rejected() -> None:
    # Only the model presets list accepts new entries; a typo in a guide id must not add a rule.
    with pytest.raises(ValueError, match="unknown id"):
        labadvisor.configure({"offload-vs-local": {"workloads": [{"id": "workload.poetry"}]}})


OFFLOAD = "offload-vs-local"


@pytest.mark.parametrize(
    ("override", "words"),
    [
        # a type the record cannot hold
        (
            {OFFLOAD: {"rules": {"gpu-fits": {"headroom_fraction": "lots"}}}},
            r"offload-vs-local\.rules\.gpu-fits\.headroom_fraction must be of type float",
        ),
        # ranges
        (
            {OFFLOAD: {"rules": {"gpu-fits": {"headroom_fraction": 1.0}}}},
            r"offload-vs-local\.rules\.gpu-fits\.headroom_fraction must be .*< 1, got 1\.0",
        ),
        (
            {OFFLOAD: {"rules": {"gpu-fits": {"headroom_fraction": -0.1}}}},
            r"headroom_fraction must be a finite number >= 0 and < 1, got -0\.1",
        ),
        (
            {OFFLOAD: {"costs": {"defaults": {"offload_rate": -0.5}}}},
            r"offload-vs-local\.costs\.defaults\.offload_rate must be .*>= 0, got -0\.5",
        ),
        (
            {OFFLOAD: {"costs": {"pay_per_use": [{"id": "cost.offload.l4", "high": 0.1}]}}},
            r"costs\.pay_per_use\[cost\.offload\.l4\]\.high must be .*>= 0\.5",
        ),
        (
            {OFFLOAD: {"offload_gpu": {"memory_gb": 0}}},
            r"offload-vs-local\.offload_gpu\.memory_gb must be .*> 0",
        ),
        ({"compose-vs-k3s": {"rules": {"users": {"k3s_from_users": 0}}}}, r"k3s_from_users"),
        # size tiers out of order, with a gap, or overlapping
        (
            {OFFLOAD: {"size_tiers": [{"id": "size.medium", "up_to_gb": 10.0}]}},
            r"offload-vs-local\.size_tiers\[size\.large\] must start where the tier before it ends",
        ),
        (
            {OFFLOAD: {"size_tiers": [{"id": "size.large", "above_gb": 8.0}]}},
            r"size_tiers\[size\.large\] must start .*above_gb = 7",
        ),
        (
            {OFFLOAD: {"size_tiers": [{"id": "size.small", "below_gb": 0.5}]}},
            r"size_tiers\[size\.medium\] must start .*from_gb = 0\.5",
        ),
        (
            {
                OFFLOAD: {
                    "size_tiers": [
                        {"id": "size.medium", "from_gb": 3.0, "up_to_gb": 2.0},
                        {"id": "size.small", "below_gb": 3.0},
                        {"id": "size.large", "above_gb": 2.0},
                    ]
                }
            },
            r"size_tiers\[size\.medium\] ends at 2 GB, before it starts at 3 GB",
        ),
        # a link to nothing
        (
            {OFFLOAD: {"workloads": [{"id": "workload.testing", "complexity": "easy"}]}},
            r"workloads\[workload\.testing\]\.complexity must be one of .*simple",
        ),
        (
            {OFFLOAD: {"size_tiers": [{"id": "size.small", "choice": "cloud"}]}},
            r"size_tiers\[size\.small\]\.choice must be one of local-cpu, local-gpu, offload",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_setting(override: dict, words: str) -> None:
    before = labadvisor.advise_runtime(5, gpu=6.0, hours_per_day=6)
    with pytest.raises(ValueError, match=words):
        labadvisor.configure(override)
    after = labadvisor.advise_runtime(5, gpu=6.0, hours_per_day=6)
    assert after.to_dict() == before.to_dict()  # the old values stay in force
    assert labadvisor.advise_deployment(50).choice == "k3s"


@pytest.mark.parametrize(
    ("path", "template", "words"),
    [
        (
            ("rules", "gpu-fits", "text"),
            "{free_gbb:.1f} GB free",
            r"offload-vs-local\.rules\.gpu-fits\.text: unknown placeholder \{free_gbb\}; "
            r"valid placeholders: .*free_gb.*margin_gb",
        ),
        (
            ("rules", "gpu-none", "text"),
            "{free_gb:.1f} GB free",  # not known when there is no GPU
            r"rules\.gpu-none\.text: unknown placeholder \{free_gb\}; valid placeholders: ",
        ),
        (
            ("offload_gpu", "warning"),
            "{size_gb.__class__}",
            r"offload_gpu\.warning: placeholder \{size_gb\.__class__\} is not a plain field name",
        ),
        (("rules", "cost", "text"), "{local[0]}", r"\{local\[0\]\} is not a plain field name"),
        (
            ("rules", "cost", "text"),
            "{local:>999999999}",
            r"rules\.cost\.text: placeholder \{local:>999999999\} has an unsupported format spec",
        ),
        (("rules", "cost", "text"), "{local:{hours}}", r"unsupported format spec"),
        (("rules", "cost", "text"), "{local!r}", r"rules\.cost\.text: .*conversion"),
        (("rules", "team", "text"), "{audience:.1f}", r"rules\.team\.text: .*audience"),
        (("rules", "team", "text"), "a { b", r"rules\.team\.text: not a valid template"),
    ],
)
def test_templates_may_use_only_the_fields_the_code_supplies(
    path: tuple[str, ...], template: str, words: str
) -> None:
    override: dict[str, Any] = {path[-1]: template}
    for key in reversed(path[:-1]):
        override = {key: override}
    with pytest.raises(ValueError, match=words):
        labadvisor.configure({OFFLOAD: override})
    advice = labadvisor.advise_runtime(5, gpu=24.0, hours_per_day=6, team_size=3)
    assert "GB free" in advice.reasons[1].text  # the packaged templates still in force


def test_a_template_override_that_is_valid_is_used() -> None:
    labadvisor.configure(
        {OFFLOAD: {"rules": {"gpu-fits": {"text": "{free_gb:.0f} GB free, {headroom_pct:g}%"}}}}
    )
    advice = labadvisor.advise_runtime(5, gpu=24.0)
    assert advice.reasons[1].text == "24 GB free, 0%"  # no headroom beyond the estimate
    labadvisor.configure(
        {"compose-vs-k3s": {"rules": {"users": {"compose_text": "{users} of {k3s_from_users}"}}}}
    )
    assert labadvisor.advise_deployment(7).reasons[0].text == "7 of 50"


def test_a_bad_placeholder_in_the_override_file_names_the_file_and_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[compose-vs-k3s.rules.users]\nk3s_text = "{user} users"\n')
    monkeypatch.setenv("LABADVISOR_CONFIG", str(config))
    guides.configure(reset=True)
    with pytest.raises(
        ValueError, match=r"config\.toml: .*rules\.users\.k3s_text: unknown placeholder \{user\}"
    ):
        labadvisor.advise_deployment(60)


def test_overrides_stack_in_order_and_reset_drops_them() -> None:
    labadvisor.configure({OFFLOAD: {"costs": {"defaults": {"offload_rate": 1.0}}}})
    labadvisor.configure({OFFLOAD: {"costs": {"defaults": {"local_monthly": 150.0}}}})
    assert labadvisor.breakeven_hours_per_day() == pytest.approx(5.0)  # 150 / (1.0 x 30)
    labadvisor.configure({"models": {"presets": [{"id": "mine", "params_b": 3.0}]}})
    labadvisor.configure({"models": {"presets": [{"id": "mine", "params_b": 4.0}]}})
    assert labadvisor.estimate_memory(preset="mine").params_b == 4.0
    labadvisor.configure(reset=True)
    assert labadvisor.breakeven_hours_per_day() == pytest.approx(5.0)
    assert labadvisor.monthly_costs(1).local == 75.0
    with pytest.raises(ValueError, match="unknown preset 'mine'"):
        labadvisor.estimate_memory(preset="mine")


def test_typed_records_are_frozen() -> None:
    import dataclasses

    guide = guides.offload_guide()
    # The fit checks use estimate_memory's total as it is; headroom is an opt-in margin.
    assert guide.rules.gpu_fits.headroom_fraction == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        guide.rules.gpu_fits.headroom_fraction = 0.5  # type: ignore[misc]
    assert [t.id for t in guide.size_tiers] == ["size.small", "size.medium", "size.large"]
    assert guides.deployment_guide().rules.users.k3s_from_users == 50
    assert guides.model_facts().dtypes["int4"] == 0.5
