"""The deployment advisor panel: lab size and needs → Docker Compose or K3s, and migration."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.options import deployment_options
from labadvisor.widgets._view import AdvicePanel, dropdown, set_html, shown, style, wide
from labadvisor.widgets.deployment_state import DeploymentState


class DeploymentPanel(AdvicePanel):
    """Lab inputs on the left; the advice (with its migration plan, when one is advised) on
    the right, then the migration checklist as checkboxes whose ticks live in the state."""

    panel_title = "labadvisor deployment advisor"
    state: DeploymentState

    def __init__(self, state: DeploymentState | None = None, **inputs: Any) -> None:
        state = state if state is not None else DeploymentState(**inputs)
        options = deployment_options()
        controls: dict[str, w.ValueWidget] = {
            "users": w.BoundedIntText(
                min=1, max=100_000, description="Users", style=style(), layout=wide()
            ),
            "nodes": w.BoundedIntText(
                min=1, max=1_000, description="Nodes", style=style(), layout=wide()
            ),
            "high_availability": w.Checkbox(description="High availability needed", indent=False),
            "gpu_sharing": dropdown("GPU sharing", options["gpu_sharing"]),
            "kubernetes_experience": dropdown(
                "Kubernetes experience", options["kubernetes_experience"]
            ),
            "current": dropdown("Running now", options["current"]),
        }
        self.checklist_title = w.HTML()
        self.checklist_boxes: dict[str, w.Checkbox] = {}
        self.checklist = w.VBox()
        super().__init__(state, controls, [self.checklist_title, self.checklist])
        self._watch(state, self._show_checklist, ["advice", "checked"])
        self._show_checklist()

    def _show_checklist(self, _change: Any = None) -> None:
        items = self.state.checklist
        if [item["id"] for item in items] != list(self.checklist_boxes):
            # The set of items changed (a migration appeared or went): new boxes.
            self.checklist_boxes = {item["id"]: self._checkbox(item) for item in items}
            self.checklist.children = tuple(self.checklist_boxes.values())
        for item in items:
            self.checklist_boxes[item["id"]].value = item["done"]
        done = sum(item["done"] for item in items)
        title = (
            f"<b>Before migrating</b> ({done} of {len(items)} done"
            + (" — ready" if items and done == len(items) else "")
            + ")"
        )
        set_html(self.checklist_title, title if items else "")
        shown(self.checklist, bool(items))

    def _checkbox(self, item: dict[str, Any]) -> w.Checkbox:
        box = w.Checkbox(
            value=item["done"],
            description=item["item"],
            indent=False,
            layout=w.Layout(width="auto"),
        )
        # A tick goes to the state, which tells _show_checklist; setting a box to the value
        # it has is no change, so the round trip ends there.
        box.observe(lambda change: self.state.check(item["id"], change["new"]), names="value")
        return box
