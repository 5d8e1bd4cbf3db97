"""State of the deployment advisor panel: lab inputs, the advice, and the migration checklist."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Instance, Int, Unicode

from labadvisor.deployment import DeploymentAdvice, advise_deployment
from labadvisor.widgets._state import AdviceState


class DeploymentState(AdviceState):
    """Inputs of :func:`labadvisor.advise_deployment`, the advice, and ticked checklist items.

    Ticks (``checked``, item id → done) are kept by checklist item id, so they survive input
    changes (advice that stops and later starts asking for a migration shows the same
    ticks). With ``checklist_file`` they are also written to that JSON file on every change
    and read back on creation, so they survive a kernel restart.
    """

    subject = "deployment"
    input_names = (
        "users",
        "nodes",
        "high_availability",
        "gpu_sharing",
        "kubernetes_experience",
        "current",
    )

    users = Int(20)
    nodes = Int(1)
    high_availability = Bool(False)
    gpu_sharing = Unicode(None, allow_none=True)
    kubernetes_experience = Bool(None, allow_none=True)
    current = Unicode(None, allow_none=True)

    advice = Instance(DeploymentAdvice, allow_none=True)
    checked = Dict(key_trait=Unicode(), value_trait=Bool())

    def __init__(
        self, *, checklist_file: str | os.PathLike[str] | None = None, **inputs: Any
    ) -> None:
        self.checklist_file = None if checklist_file is None else Path(checklist_file)
        ticks = self._load_checklist()
        super().__init__(**inputs)
        self.checked = ticks

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
        valid = [item["id"] for item in self.checklist]
        if item_id not in valid:
            raise ValueError(
                f"unknown checklist item {item_id!r}; valid items: {', '.join(valid) or 'none'}"
                + ("" if valid else " (no migration is advised for these inputs)")
            )
        if self.checked.get(item_id, False) == done:
            return
        self.checked = {**self.checked, item_id: bool(done)}
        self._save_checklist()

    @property
    def ready_to_migrate(self) -> bool:
        items = self.checklist
        return bool(items) and all(item["done"] for item in items)

    def _advise(self) -> None:
        advice: DeploymentAdvice | None = None
        error: str | None = None
        try:
            advice = advise_deployment(**self.inputs)
            self._keep_canonical(
                current=advice.inputs["current"], gpu_sharing=advice.inputs["gpu_sharing"]
            )
        except ValueError as exc:
            error = str(exc)
        with self.hold_trait_notifications():
            self.error, self.advice = error, advice

    def _load_checklist(self) -> dict[str, bool]:
        if self.checklist_file is None or not self.checklist_file.exists():
            return {}
        try:
            data = json.loads(self.checklist_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read checklist file {self.checklist_file}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, bool) for v in data.values()):
            raise ValueError(
                f"checklist file {self.checklist_file} must hold a JSON object of item id → "
                "true/false"
            )
        return dict(data)

    def _save_checklist(self) -> None:
        if self.checklist_file is None:
            return
        # Write then rename, so a crash never leaves a half-written file behind.
        tmp = self.checklist_file.with_name(self.checklist_file.name + ".tmp")
        tmp.write_text(json.dumps(self.checked, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.checklist_file)
