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
    for bad, message in [
        ({"offload-vs-local": {"costs": {"defaults": {"offload_rte": 1.0}}}}, "offload_rate"),
        ({"offload-vs-local": {"costs": {"defaults": {"offload_rate": "cheap"}}}}, "'cheap'"),
        (
            {"offload-vs-local": {"size_tiers": [{"id": "size.huge", "from_gb": 1.0}]}},
            "size.medium",
        ),
        ({"offload-vs-locl": {}}, "compose-vs-k3s"),
    ]:
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
