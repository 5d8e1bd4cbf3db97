"""State of the deployment advisor panel: lab inputs, the advice, and the migration checklist."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from traitlets import Bool, Dict, Float, Instance, Int, List, Unicode, default

from labadvisor import files
from labadvisor.deployment import DeploymentAdvice, advise_deployment
from labadvisor.guides import deployment_guide
from labadvisor.widgets._state import AdviceState, FieldRange, guide_value, problem


class DeploymentState(AdviceState):
    """Inputs of :func:`labadvisor.advise_deployment`, the advice, and ticked checklist items.

    The inputs are advise_deployment's own (all but ``measured``): ``concurrent_users`` and
    ``expected_users`` are None when not stated (and only then unchecked for range),
    ``migration_triggers`` the guide's trigger ids seen, ``gpu`` None, "auto" or a model
    name, ``current_ok`` whether the platform in use works, ``ops_hourly_rate`` and
    ``server_monthly`` (the guide's by default) what prices each platform's month
    (``advice.costs``).

    Ticks (``checked``, item id → done) are kept by checklist item id, so they survive input
    changes (advice that stops and later starts asking for a migration shows the same
    ticks). With ``checklist_file`` they are also written to that JSON file on every change
    and read back on creation, so they survive a kernel restart.

    The file may be shared: each tick re-reads it under its lock, changes only that item
    and writes it back through :mod:`labadvisor.files`, so processes ticking different items
    of one file never lose each other's ticks (and this state picks theirs up). A path whose
    directory is missing is refused at construction; an existing file that cannot be read
    or is not a JSON object of item id → true/false is refused too (a ValueError naming the
    file) rather than started empty, which would overwrite it at the next tick.
    """

    subject = "deployment"
    input_names = (
        "users",
        "concurrent_users",
        "expected_users",
        "nodes",
        "high_availability",
        "gpu_sharing",
        "gpu",
        "gpu_count",
        "migration_triggers",
        "kubernetes_experience",
        "current",
        "current_ok",
        "prefer",
        "ops_hourly_rate",
        "server_monthly",
    )

    limits: ClassVar[dict[str, FieldRange]] = {
        "users": FieldRange("Users", 1, 100_000),
        "concurrent_users": FieldRange("Online at once", 1, 100_000),
        "expected_users": FieldRange("Users next year", 1, 100_000),
        "nodes": FieldRange("Nodes", 1, 1_000),
        "ops_hourly_rate": FieldRange("Ops rate (USD/h)", 0, 10_000),
        "server_monthly": FieldRange("Server (USD/month)", 0, 1_000_000),
    }
    # Not stated (None) is a valid value of these.
    optional_counts: ClassVar[tuple[str, ...]] = ("concurrent_users", "expected_users")

    users = Int(20)
    concurrent_users = Int(None, allow_none=True)
    expected_users = Int(None, allow_none=True)
    nodes = Int(1)
    high_availability = Bool(False)
    gpu_sharing = Unicode(None, allow_none=True)
    # None (not stated), "auto" (this machine's GPUs) or a GPU model name, for the MIG check.
    gpu = Unicode(None, allow_none=True)
    gpu_count = Int(None, allow_none=True)
    # The guide's migration triggers seen, by id (labels are accepted and stored as ids).
    migration_triggers = List(Unicode())
    kubernetes_experience = Bool(None, allow_none=True)
    current = Unicode(None, allow_none=True)
    current_ok = Bool(True)
    prefer = Unicode(None, allow_none=True)
    # The guide's by default (None only while the guide cannot be read).
    ops_hourly_rate = Float(None, allow_none=True)
    server_monthly = Float(None, allow_none=True)

    advice = Instance(DeploymentAdvice, allow_none=True)
    checked = Dict(key_trait=Unicode(), value_trait=Bool())

    def __init__(
        self, *, checklist_file: str | os.PathLike[str] | None = None, **inputs: Any
    ) -> None:
        self.checklist_file = None if checklist_file is None else _checklist_path(checklist_file)
        ticks = {} if self.checklist_file is None else _read_checklist(self.checklist_file)
        super().__init__(**inputs)
        self.checked = ticks

    @default("ops_hourly_rate")
    def _guide_hourly_rate(self) -> float | None:
        return guide_value(lambda: deployment_guide().operations_defaults.hourly_rate)

    @default("server_monthly")
    def _guide_server_monthly(self) -> float | None:
        return guide_value(lambda: deployment_guide().operations_defaults.server_monthly)

    def current_advice(self) -> DeploymentAdvice | None:
        return self.advice

    @property
    def checklist(self) -> list[dict[str, Any]]:
        """The migration checklist of the current advice, each item with its ``done`` flag."""
        migration = self.advice.migration if self.advice else None
        if migration is None:
            return []
        return [
            {**item, "done": self.checked.get(item["id"], False)} for item in migration.checklist
        ]

    def check(self, item_id: str, done: bool = True) -> None:
        """Tick (or untick) one item of the current checklist, and save it with the file's.

        Raises ValueError for an item the checklist lacks or a checklist file that cannot
        be read, :class:`labadvisor.files.FileWriteError` (an OSError) when it cannot be
        written; the tick is then not taken.
        """
        valid = [item["id"] for item in self.checklist]
        if item_id not in valid:
            raise ValueError(
                f"unknown checklist item {item_id!r}; valid items: {', '.join(valid) or 'none'}"
                + ("" if valid else " (no migration is advised for these inputs)")
            )
        if self.checklist_file is None:
            if self.checked.get(item_id, False) != done:
                self.checked = {**self.checked, item_id: bool(done)}
            return
        with files.locked(self.checklist_file):
            on_disk = _read_checklist(self.checklist_file)
            ticks = {**on_disk, item_id: bool(done)}
            if on_disk.get(item_id, False) != done:  # else: nothing to write, as before
                text = json.dumps(ticks, indent=2, sort_keys=True) + "\n"
                files.write(self.checklist_file, text.encode("utf-8"))
        self.checked = ticks

    @property
    def ready_to_migrate(self) -> bool:
        items = self.checklist
        return bool(items) and all(item["done"] for item in items)

    def _update_advice(self) -> None:
        advice: DeploymentAdvice | None = None
        error: str | None = None
        try:
            advice = advise_deployment(**self.inputs)
            self._keep_canonical(
                current=advice.inputs["current"],
                gpu_sharing=advice.inputs["gpu_sharing"],
                prefer=advice.inputs["prefer"],
                migration_triggers=list(advice.inputs["migration_triggers"]),
                ops_hourly_rate=advice.inputs["ops_hourly_rate"],
                server_monthly=advice.inputs["server_monthly"],
            )
        except (ValueError, OSError) as exc:
            error = problem(exc)
        with self.hold_trait_notifications():
            self.error, self.advice = error, advice


def _checklist_path(path: str | os.PathLike[str]) -> Path:
    given = Path(path)
    files.target_of(given)  # a missing directory: ValueError naming it, now, not at a tick
    if given.is_dir():
        raise ValueError(f"checklist file {given} is a directory; give a file path")
    return given


def _read_checklist(path: Path) -> dict[str, bool]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        reason = files.reason(exc) if isinstance(exc, OSError) else str(exc)
        raise ValueError(f"cannot read checklist file {path}: {reason}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(
            f"checklist file {path} is not valid JSON ({exc}); fix or remove it"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, bool) for v in data.values()):
        raise ValueError(f"checklist file {path} must hold a JSON object of item id → true/false")
    return dict(data)
