"""The deployment advisor panel: lab size and needs → Docker Compose or K3s, and migration."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.options import deployment_options
from labadvisor.widgets._html import error_html
from labadvisor.widgets._view import AdvicePanel, dropdown, number_box, set_html, shown
from labadvisor.widgets.deployment_state import DeploymentState

ADVICE_CLASS = "labadvisor-deployment-advice"
# The advice renders as everywhere else (its _repr_html_), and that includes the migration
# plan's static "☐ item" list; the panel shows the same items as live checkboxes, so it
# hides the static list inside its own advice box only. The first selector is for a
# checklist wrapped in that class; the others match the plan's current markup, a bold title
# followed by an unbulleted list (tests/test_widgets.py checks that it is still there).
CHECKLIST_STYLE = (
    "<style>"
    f".{ADVICE_CLASS} .labadvisor-checklist,"
    f".{ADVICE_CLASS} b:has(+ ul[style*='list-style:none']),"
    f".{ADVICE_CLASS} ul[style*='list-style:none']"
    "{display:none}"
    "</style>"
)


class DeploymentPanel(AdvicePanel):
    """Lab inputs on the left; the advice (with its migration plan, when one is advised) on
    the right, then the migration checklist as checkboxes whose ticks live in the state
    (the plan's static copy of the list is hidden in the panel: see CHECKLIST_STYLE)."""

    panel_title = "labadvisor deployment advisor"
    state: DeploymentState

    def __init__(self, state: DeploymentState | None = None, **inputs: Any) -> None:
        state = state if state is not None else DeploymentState(**inputs)
        options = deployment_options()
        controls: dict[str, w.ValueWidget] = {
            "users": number_box(state.limits["users"], whole=True),
            "nodes": number_box(state.limits["nodes"], whole=True),
            "high_availability": w.Checkbox(description="High availability needed", indent=False),
            "gpu_sharing": dropdown("GPU sharing", options["gpu_sharing"]),
            "kubernetes_experience": dropdown(
                "Kubernetes experience", options["kubernetes_experience"]
            ),
            "current": dropdown("Running now", options["current"]),
        }
        self.checklist_title = w.HTML()
        self.checklist_error = w.HTML()
        self.checklist_boxes: dict[str, w.Checkbox] = {}
        self.checklist = w.VBox()
        self._showing = False  # boxes being set from the state: not a tick to save
        self.checklist_style = w.HTML(CHECKLIST_STYLE)
        super().__init__(
            state,
            controls,
            [self.checklist_style, self.checklist_title, self.checklist_error, self.checklist],
        )
        self.advice.add_class(ADVICE_CLASS)
        self._watch(state, self._show_checklist, ["advice", "checked"])
        self._show_checklist()

    def _show_checklist(self, _change: Any = None) -> None:
        items = self.state.checklist
        if [item["id"] for item in items] != list(self.checklist_boxes):
            # The set of items changed (a migration appeared or went): new boxes.
            self.checklist_boxes = {item["id"]: self._checkbox(item) for item in items}
            self.checklist.children = tuple(self.checklist_boxes.values())
        self._showing = True
        try:
            for item in items:
                self.checklist_boxes[item["id"]].value = item["done"]
        finally:
            self._showing = False
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
        box.observe(lambda change: self._tick(item["id"], change["new"]), names="value")
        return box

    def _tick(self, item_id: str, done: bool) -> None:
        # A tick goes to the state, which tells _show_checklist. A tick that cannot be saved
        # (a read-only directory, a file broken meanwhile) is shown as the panel's message,
        # not raised into the widget's log, and the box goes back to what the state holds.
        if self._showing:
            return
        try:
            self.state.check(item_id, done)
        except (ValueError, OSError) as exc:
            set_html(self.checklist_error, error_html(str(exc)))
            self._show_checklist()
        else:
            set_html(self.checklist_error, "")
