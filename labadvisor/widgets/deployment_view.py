"""The deployment advisor panel: lab size and needs → Docker Compose or K3s, and migration."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.guides import deployment_data
from labadvisor.widgets import _state as h
from labadvisor.widgets._view import PanelMixin, bind, set_html, shown, style, sync_value, wide
from labadvisor.widgets.deployment_state import DeploymentState


class DeploymentPanel(PanelMixin, w.VBox):
    """Lab inputs on the left; the choice, reasons and (when advised) the migration."""

    panel_title = "labadvisor deployment advisor"

    def __init__(self, state: DeploymentState | None = None, **inputs: Any) -> None:
        self.state = state if state is not None else DeploymentState(**inputs)
        i = self.state.inputs
        data = deployment_data()
        modes = data["rules"]["gpu-sharing"]["modes"]
        platforms = [(entry["label"], name) for name, entry in data["platforms"].items()]
        self.controls: dict[str, w.ValueWidget] = {
            "users": w.BoundedIntText(
                value=i["users"],
                min=1,
                max=100_000,
                description="Users",
                style=style(),
                layout=wide(),
            ),
            "nodes": w.BoundedIntText(
                value=i["nodes"],
                min=1,
                max=1_000,
                description="Nodes",
                style=style(),
                layout=wide(),
            ),
            "high_availability": w.Checkbox(
                value=i["high_availability"],
                description="High availability needed",
                indent=False,
            ),
            "gpu_sharing": w.Dropdown(
                options=[("none", None), *[(m, m) for m in modes]],
                value=i["gpu_sharing"],
                description="GPU sharing",
                style=style(),
                layout=wide(),
            ),
            "kubernetes_experience": w.Dropdown(
                options=[("not stated", None), ("yes", True), ("no", False)],
                value=i["kubernetes_experience"],
                description="Kubernetes experience",
                style=style(),
                layout=wide(),
            ),
            "current": w.Dropdown(
                options=[("nothing yet", None), *platforms],
                value=i["current"],
                description="Running now",
                style=style(),
                layout=wide(),
            ),
        }
        self.error = w.HTML()
        self.choice = w.HTML()
        self.reasons = w.HTML()
        self.warnings = w.HTML()
        self.migration = w.HTML()
        self.checklist_title = w.HTML()
        self.checklist_boxes: dict[str, w.Checkbox] = {}
        self.checklist = w.VBox()
        self.rollback = w.HTML()
        self._syncing = False
        results = w.VBox(
            [
                self.error,
                self.choice,
                self.warnings,
                self.reasons,
                self.migration,
                self.checklist_title,
                self.checklist,
                self.rollback,
            ],
            layout=w.Layout(flex="1 1 420px", min_width="320px"),
        )
        inputs_box = w.VBox(list(self.controls.values()), layout=w.Layout(flex="0 0 340px"))
        super().__init__([w.HBox([inputs_box, results], layout=w.Layout(flex_flow="row wrap"))])
        bind(self.controls, self._on_input)
        self.state.observe(self._on_state)
        self.render()

    def _on_input(self, name: str, value: Any) -> None:
        if not self._syncing:
            self.state.set(**{name: value})

    def _on_state(self, what: str) -> None:
        if what == "checklist":
            self._render_checklist()
        else:
            self.render()

    def render(self) -> None:
        state, advice = self.state, self.state.advice
        self._sync_controls()
        set_html(self.error, h.error_html(state.error) if state.error else "")
        if advice is None:
            for part in (self.choice, self.reasons, self.warnings, self.migration, self.rollback):
                set_html(part, "")
        else:
            set_html(self.choice, h.choice_html(advice.choice_label, advice.choice, "Deploy with"))
            set_html(self.reasons, h.reasons_html(advice.reasons))
            set_html(self.warnings, h.warnings_html(advice.warnings))
            set_html(self.migration, _migration_html(advice.migration))
            set_html(self.rollback, _rollback_html(advice.migration))
        self._render_checklist()

    def _render_checklist(self) -> None:
        items = self.state.checklist
        ids = [item["id"] for item in items]
        if ids != list(self.checklist_boxes):
            # The set of items changed (a migration appeared or went): rebuild the boxes.
            self.checklist_boxes = {}
            for item in items:
                box = w.Checkbox(
                    value=item["done"],
                    description=item["item"],
                    indent=False,
                    layout=w.Layout(width="auto"),
                )
                box.observe(
                    lambda c, item_id=item["id"]: self._on_tick(item_id, c["new"]), names="value"
                )
                self.checklist_boxes[item["id"]] = box
            self.checklist.children = tuple(self.checklist_boxes.values())
        self._syncing = True
        try:
            for item in items:
                box = self.checklist_boxes[item["id"]]
                if box.value != item["done"]:
                    box.value = item["done"]
        finally:
            self._syncing = False
        done = sum(item["done"] for item in items)
        title = (
            f"<b>Before migrating</b> ({done} of {len(items)} done"
            + (" — ready" if items and done == len(items) else "")
            + ")"
        )
        set_html(self.checklist_title, title if items else "")
        shown(self.checklist, bool(items))

    def _on_tick(self, item_id: str, done: bool) -> None:
        if not self._syncing:
            self.state.check(item_id, done)

    def _sync_controls(self) -> None:
        self._syncing = True
        try:
            for name, control in self.controls.items():
                sync_value(control, self.state.inputs[name])
        finally:
            self._syncing = False


def _migration_html(migration: Any) -> str:
    if migration is None:
        return ""
    rows = "".join(
        f"<tr><td>{s.order}</td><td><b>{h.esc(s.title)}</b><br><small>"
        f"{h.esc('; '.join(s.details))}</small></td>"
        f"<td style='white-space:nowrap'>{h.esc(s.duration)}</td></tr>"
        for s in migration.steps
    )
    total = ""
    if migration.stated_total_hours:
        low, high = migration.stated_total_hours
        total = f"<p>Total (guide): <b>{low:g}-{high:g} hours</b>"
        steps_total = migration.steps_total_minutes
        if steps_total:
            total += f" (steps add up to {steps_total[0] / 60:g}-{steps_total[1] / 60:g} h)"
        total += "</p>"
    return (
        f"<b>Migration {h.esc(migration.source)} → {h.esc(migration.target)}</b>"
        "<table style='border-collapse:collapse'><tr><th>#</th><th align='left'>Step</th>"
        f"<th>Time</th></tr>{rows}</table>{total}"
    )


def _rollback_html(migration: Any) -> str:
    if migration is None or not migration.rollback:
        return ""
    items = "".join(
        f"<li>{h.esc(r['title'])}: <code>{h.esc(r['command'])}</code></li>"
        for r in migration.rollback
    )
    return f"<b>Rollback</b><ul style='margin-top:2px'>{items}</ul>"
