"""advise_deployment(measured=...) end to end: a generated SQLite lab (demo_lab), read by
lab_summary, fills the users, the concurrency and the GPU-contention trigger, and the
reasons quote the measured figures; what is not a LabSummary is refused by name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from labadvisor import advise_deployment
from labadvisor.usage import LabSummary, demo_lab, lab_summary

NOW = 1_700_000_000.0
WEEK = 7


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 generated users over a week (seeded: the same lab every run)."""
    path = tmp_path_factory.mktemp("lab") / "lab.sqlite3"
    return demo_lab(path, users=30, days=WEEK, seed=3, now=NOW)


def test_a_measured_lab_fills_the_inputs_and_is_quoted(lab: Path) -> None:
    summary = lab_summary(lab, WEEK, now=NOW)
    assert isinstance(summary, LabSummary) and summary.has_data
    assert summary.active_users < 50 and summary.peak_concurrent_servers < 50
    advice = advise_deployment(measured=summary)
    assert advice.choice == "docker-compose"
    assert advice.users == summary.active_users
    assert advice.concurrent_users == summary.peak_concurrent_servers
    decided = advice.deciding_reason
    assert decided.rule == "deploy.users"
    assert f"(Measured: {summary.active_users} active users in the last {WEEK} days.)" in (
        decided.text
    )
    (concurrency,) = [r.text for r in advice.reasons if r.rule == "deploy.concurrency"]
    assert concurrency.startswith(
        f"peak {summary.peak_concurrent_servers} concurrent servers in the last {WEEK} days "
        f"(95th percentile {summary.p95_concurrent_servers})"
    )
    assert "the guide puts Docker Compose's limit at about 50" in concurrency
    assert advice.measured == {
        "active_users": summary.active_users,
        "peak_concurrent_servers": summary.peak_concurrent_servers,
        "p95_concurrent_servers": summary.p95_concurrent_servers,
        "gpu_contention": summary.gpu_contention,
        "days": WEEK,
    }


def test_measured_gpu_contention_is_the_migration_trigger(lab: Path) -> None:
    # The same lab with one GPU: demand exceeds it most of the time.
    summary = lab_summary(lab, WEEK, gpus=1, now=NOW)
    assert summary.gpu_contention >= 0.25  # the guide's share for the trigger
    advice = advise_deployment(measured=summary, current="compose")
    assert advice.choice == "k3s"
    decided = advice.deciding_reason
    assert decided.rule == "deploy.triggers"
    share = f"{summary.gpu_contention:.0%}"
    assert f"(measured: GPU contention {share} of the time over the last {WEEK} days)" in (
        decided.text
    )
    assert "gpu-scheduling-conflicts" in advice.triggers


def test_given_figures_win_over_measured_ones(lab: Path) -> None:
    summary = lab_summary(lab, WEEK, now=NOW)
    advice = advise_deployment(80, concurrent_users=60, measured=summary)
    assert (advice.users, advice.concurrent_users) == (80, 60)
    assert "Measured:" not in " ".join(r.text for r in advice.reasons if r.rule == "deploy.users")


def test_a_summary_without_samples_is_refused_with_what_it_saw(lab: Path) -> None:
    empty = lab_summary(lab, WEEK, now=NOW + 90 * 86400)  # months after the last sample
    assert not empty.has_data
    with pytest.raises(ValueError, match="measured has nothing to advise from: no samples"):
        advise_deployment(measured=empty)


@dataclass(frozen=True)
class OldSummary:
    """The attribute names of an earlier draft: gpu_contention_share, not gpu_contention."""

    active_users: int = 40
    peak_concurrent_servers: int = 61
    p95_concurrent_servers: float = 48.0
    gpu_contention_share: float = 0.05
    days: int = 30


@pytest.mark.parametrize(
    ("measured", "words"),
    [
        (
            {"active_users": 40, "peak_concurrent_servers": 61},  # a REST body
            [
                "measured must have active_users, peak_concurrent_servers, "
                "p95_concurrent_servers, gpu_contention, days",
                "a labadvisor.usage.LabSummary (from lab_summary())",
                "dict lacks active_users",
                "pass users= and concurrent_users= instead",
            ],
        ),
        (OldSummary(), ["OldSummary lacks gpu_contention"]),
        ("lab.sqlite3", ["a labadvisor.usage.LabSummary", "str lacks active_users"]),
    ],
)
def test_what_is_not_a_lab_summary_is_named(measured: object, words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        advise_deployment(measured=measured)  # type: ignore[arg-type]
    for word in words:
        assert word in str(caught.value)
