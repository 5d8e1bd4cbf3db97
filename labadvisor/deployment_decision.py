"""The deployment decision: Docker Compose or K3s for one checked set of lab inputs, and
which step of the ``[[arbitration]]`` in ``compose_vs_k3s.toml`` decided it.

The steps, in the data's order (the last always applies):

1. a feature only K3s has (nodes, high availability, MIG/time-slicing, a trigger seen);
2. capacity: registered users at the 50-user line, or concurrent users past Compose's ~50;
3. the platform the user asked for (``prefer``);
4. K3s that is not working, when nothing above needs it → Docker Compose;
5. the platform in use, when it works, stays;
6. otherwise Docker Compose (start simple).

:mod:`labadvisor.deployment` explains the answer; this module only decides it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from labadvisor.deployment_facts import (
    STEP_ASKED,
    STEP_CAPACITY,
    STEP_NEEDS_K3S,
    STEP_NOT_WORKING,
    STEP_START_SIMPLE,
    STEP_WHERE_YOU_ARE,
    DeploymentGuide,
    PlatformName,
)
from labadvisor.units import normalize_name


class LabMeasurements(Protocol):
    """What ``advise_deployment(measured=...)`` reads: :class:`labadvisor.usage.LabSummary`
    (from :func:`labadvisor.usage.lab_summary`) has these attributes; any object with them
    will do. ``gpu_contention`` is the share (0-1) of sampled minutes in which GPU demand
    exceeded the GPUs present."""

    @property
    def active_users(self) -> int: ...

    @property
    def peak_concurrent_servers(self) -> int: ...

    @property
    def p95_concurrent_servers(self) -> float: ...

    @property
    def gpu_contention(self) -> float: ...

    @property
    def days(self) -> int: ...


_MEASURED_FIELDS = (
    "active_users",
    "peak_concurrent_servers",
    "p95_concurrent_servers",
    "gpu_contention",
    "days",
)
_MEASURED_KIND = (
    "a labadvisor.usage.LabSummary (from lab_summary()) or an object with those attributes"
)


@dataclass(frozen=True)
class Measured:
    """The figures of a lab's measurements the advice uses, checked."""

    active_users: int
    peak: int
    p95: float
    contention: float  # share of the time with GPU contention, 0-1
    days: float

    @property
    def concurrency_text(self) -> str:
        return (
            f"peak {self.peak} concurrent servers in the last {self.days:g} days "
            f"(95th percentile {self.p95:g})"
        )

    @property
    def users_text(self) -> str:
        return f"(Measured: {self.active_users} active users in the last {self.days:g} days.)"

    def to_dict(self) -> dict[str, float]:
        return {
            "active_users": self.active_users,
            "peak_concurrent_servers": self.peak,
            "p95_concurrent_servers": self.p95,
            "gpu_contention": self.contention,
            "days": self.days,
        }


def read_measured(measured: object) -> Measured:
    """The checked figures of ``measured``, or ValueError naming what is missing or wrong."""
    values: dict[str, float] = {}
    missing = [name for name in _MEASURED_FIELDS if not hasattr(measured, name)]
    if missing:
        hint = (
            " (a dict's keys are not attributes: pass users= and concurrent_users= instead, "
            "or the LabSummary itself)"
            if isinstance(measured, dict)
            else ""
        )
        raise ValueError(
            f"measured must have {', '.join(_MEASURED_FIELDS)}: {_MEASURED_KIND}; "
            f"{type(measured).__name__} lacks {', '.join(missing)}{hint}"
        )
    if getattr(measured, "has_data", True) is False:
        evidence = getattr(measured, "evidence", None)
        said = "; ".join(evidence()) if callable(evidence) else "it holds no samples"
        raise ValueError(
            f"measured has nothing to advise from: {said}; pass users= (and "
            "concurrent_users=) instead"
        )
    for name in _MEASURED_FIELDS:
        value = getattr(measured, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"measured.{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"measured.{name} must be a finite number, at least 0; got {value!r}")
        values[name] = float(value)
    if values["gpu_contention"] > 1:
        raise ValueError(
            "measured.gpu_contention must be a share of the time between 0 and 1, got "
            f"{values['gpu_contention']!r}"
        )
    if values["days"] <= 0:
        raise ValueError(f"measured.days must be more than 0, got {values['days']!r}")
    return Measured(
        active_users=math.ceil(values["active_users"]),
        peak=math.ceil(values["peak_concurrent_servers"]),
        p95=values["p95_concurrent_servers"],
        contention=values["gpu_contention"],
        days=values["days"],
    )


@dataclass(frozen=True)
class LabGpu:
    """What is known about the lab's GPUs: a model name, how many, whether MIG is possible."""

    name: str | None
    count: int | None
    mig_capable: bool | None  # None: not known
    why: str
    # gpu="auto" found no GPU here: why (NVML's message), so the MIG check can say it could
    # not look.
    undetected: str | None = None


def mig_capable(name: str, guide: DeploymentGuide) -> bool:
    """Whether a GPU named ``name`` ("NVIDIA A100-SXM4-80GB", "H100") supports MIG."""
    return any(
        re.search(rf"(?<![A-Za-z0-9]){re.escape(model)}(?![0-9])", name, re.IGNORECASE)
        for model in guide.mig.gpus
    )


def resolve_lab_gpu(gpu: object, gpu_count: object, guide: DeploymentGuide) -> LabGpu:
    """``gpu`` is None (not stated), "auto" (this machine's GPUs) or a model name."""
    count = None
    if gpu_count is not None:
        if isinstance(gpu_count, bool) or not isinstance(gpu_count, int) or gpu_count < 0:
            raise ValueError(f"gpu_count must be a whole number, at least 0; got {gpu_count!r}")
        count = gpu_count
    if gpu is None:
        return LabGpu(None, count, None, "GPU not stated")
    if not isinstance(gpu, str) or not gpu.strip():
        raise ValueError(
            f"gpu must be None, 'auto' (detect this machine's GPUs) or a GPU model name such "
            f"as 'A100' or 'RTX 4090'; got {gpu!r}"
        )
    if gpu.strip().lower() != "auto":
        name = gpu.strip()
        return LabGpu(name, count, mig_capable(name, guide), f"{name} (given)")
    from labadvisor import gpu as gpu_detection

    report = gpu_detection.detect()
    devices = [d for d in report.devices if d.valid]
    if not devices:
        return LabGpu(None, count, None, f"no GPU detected: {report.message}", report.message)
    names = sorted({d.name for d in devices})
    capable = any(mig_capable(d.name, guide) or d.mig_mode is True for d in devices)
    return LabGpu(
        ", ".join(names),
        len(devices) if count is None else count,
        capable,
        f"detected {len(devices)} × {', '.join(names)}",
    )


def resolve_triggers(triggers: object, guide: DeploymentGuide) -> tuple[str, ...]:
    """Trigger ids (or labels, in any case) → the guide's trigger ids, in the guide's order."""
    if triggers is None:
        return ()
    if isinstance(triggers, str) or not isinstance(triggers, Iterable):
        triggers = [triggers]
    known = guide.triggers
    by_name = {normalize_name(t.label): t.id for t in known.values()}
    seen = set()
    for trigger in triggers:
        key = normalize_name(trigger) if isinstance(trigger, str) else None
        ident = key if key in known else by_name.get(key or "")
        if ident is None:
            raise ValueError(
                f"unknown migration trigger {trigger!r}; valid triggers: {', '.join(known)}"
            )
        seen.add(ident)
    return tuple(t for t in known if t in seen)


@dataclass(frozen=True)
class DeploymentDecision:
    """Which platform the arbitration chooses and why, for one set of checked inputs."""

    choice: PlatformName
    step: str  # the ``[[arbitration]]`` id that decided
    deciding_rule: str  # the rule id of the reason marked "decided"
    detail: str  # what decided, in a few words: "high availability", "Docker Compose"
    needs_k3s: tuple[tuple[str, str], ...]  # (rule id, what) for each K3s-only feature
    capacity: tuple[tuple[str, str], ...]  # (rule id, what) for each capacity line passed


def decide_deployment(
    guide: DeploymentGuide,
    *,
    users: int,
    concurrent: int | None,
    concurrency_text: str,
    measured: bool,
    nodes: int,
    high_availability: bool,
    sharing: str | None,
    triggers: tuple[str, ...],
    prefer: PlatformName | None,
    current: PlatformName | None,
    current_ok: bool,
) -> DeploymentDecision:
    """Walk the arbitration steps in the data's order; the first that applies decides."""
    rules = guide.rules
    needs: list[tuple[str, str]] = []
    if nodes > rules.nodes.max_compose_nodes:
        needs.append((rules.nodes.id, f"{nodes} nodes"))
    if high_availability:
        needs.append((rules.high_availability.id, "high availability"))
    if sharing:
        needs.append((rules.gpu_sharing.id, f"GPU sharing ({sharing})"))
    if triggers:
        labels = " and ".join(guide.triggers[t].label for t in triggers)
        needs.append((rules.triggers.id, f"the migration trigger {labels}"))
    capacity: list[tuple[str, str]] = []
    line = rules.users.k3s_from_users
    limit = rules.compose_capacity.users
    if concurrent is not None and concurrent > limit:
        capacity.append(
            (
                rules.concurrency.id,
                f"{concurrency_text} is past Docker Compose's limit of about {limit}",
            )
        )
    if users >= line:
        capacity.insert(
            len(capacity) if measured else 0,
            (rules.users.id, f"{users} users reach the guide's {line}-user line"),
        )
    label = {name: platform.label for name, platform in guide.platforms.items()}
    for step in guide.arbitration:
        if step.id == STEP_NEEDS_K3S and needs:
            return _decided("k3s", step.id, needs[0], needs, capacity)
        if step.id == STEP_CAPACITY and capacity:
            return _decided("k3s", step.id, capacity[0], needs, capacity)
        if step.id == STEP_ASKED and prefer is not None:
            what = (rules.preference.id, label[prefer])
            return _decided(prefer, step.id, what, needs, capacity)
        if step.id == STEP_NOT_WORKING and current == "k3s" and not current_ok:
            what = (rules.not_working.id, "K3s")
            return _decided("docker-compose", step.id, what, needs, capacity)
        if step.id == STEP_WHERE_YOU_ARE and current is not None and current_ok:
            return _decided(current, step.id, (rules.stay.id, label[current]), needs, capacity)
        if step.id == STEP_START_SIMPLE:
            what = (rules.users.id, "Docker Compose")
            return _decided("docker-compose", step.id, what, needs, capacity)
    raise AssertionError("the arbitration always ends with the start-simple step")


def _decided(
    choice: PlatformName,
    step: str,
    what: tuple[str, str],
    needs: list[tuple[str, str]],
    capacity: list[tuple[str, str]],
) -> DeploymentDecision:
    return DeploymentDecision(choice, step, what[0], what[1], tuple(needs), tuple(capacity))
