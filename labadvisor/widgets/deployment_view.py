"""The deployment advisor panel: lab size and needs → Docker Compose or K3s, and migration."""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from traitlets import HasTraits, link

from labadvisor.options import Option, deployment_options
from labadvisor.widgets._html import error_html, note_html
from labadvisor.widgets._view import (
    AdvicePanel,
    dropdown,
    number_box,
    set_html,
    shown,
    style,
    wide,
)
from labadvisor.widgets.choice_boxes import CheckboxChoices, Group
from labadvisor.widgets.deployment_state import DeploymentState

ADVICE_CLASS = "labadvisor-deployment-advice"
# The class the migration plan's _repr_html_ puts on its static "☐ item" list.
CHECKLIST_CLASS = "labadvisor-checklist"
# The advice renders as everywhere else (its _repr_html_), and that includes the migration
# plan's static checklist; the panel shows the same items as live checkboxes, so it hides
# the static list inside its own advice box only (tests/test_widgets.py checks that the
# plan's markup still carries the class).
CHECKLIST_STYLE = f"<style>.{ADVICE_CLASS} .{CHECKLIST_CLASS}{{display:none}}</style>"
# The number boxes of counts that may be "not stated" show that as 0 (an IntText cannot
# be empty); 0 typed there means "not stated" again.
NOT_STATED_NUMBER = 0
GPU_COUNT_OPTIONS: list[Option] = [
    ("not stated", None),
    ("none", 0),
    *[(str(n), n) for n in (1, 2, 3, 4, 6, 8)],
]


class DeploymentPanel(AdvicePanel):
    """Lab inputs on the left; the advice (with its migration plan, when one is advised) on
    the right, then the migration checklist as checkboxes whose ticks live in the state
    (the plan's static copy of the list is hidden in the panel: see CHECKLIST_STYLE)."""

    panel_title = "labadvisor deployment advisor"
    state: DeploymentState

    def __init__(self, state: DeploymentState | None = None, **inputs: Any) -> None:
        state = state if state is not None else DeploymentState(**inputs)
        options = deployment_options()
        limits = state.limits
        triggers = options["migration_triggers"]
        controls: dict[str, w.ValueWidget] = {
            "users": number_box(limits["users"], whole=True),
            "concurrent_users": number_box(limits["concurrent_users"], whole=True),
            "expected_users": number_box(limits["expected_users"], whole=True),
            "nodes": number_box(limits["nodes"], whole=True),
            "high_availability": w.Checkbox(description="High availability needed", indent=False),
            "gpu_sharing": dropdown("GPU sharing", options["gpu_sharing"]),
            "gpu": w.Combobox(
                options=[value for _, value in options["gpu"] if value is not None],
                placeholder="not stated, or auto",
                ensure_option=False,
                description="GPU model",
                style=style(),
                layout=wide(),
            ),
            "gpu_count": dropdown("GPUs in the lab", GPU_COUNT_OPTIONS),
            "migration_triggers": CheckboxChoices(
                triggers, _trigger_groups(), description="Triggers seen"
            ),
            "kubernetes_experience": dropdown(
                "Kubernetes experience", options["kubernetes_experience"]
            ),
            "current": dropdown("Running now", options["current"]),
            "current_ok": w.Checkbox(description="It works (no need to leave it)", indent=False),
            "prefer": dropdown("Preference", options["prefer"]),
            "ops_hourly_rate": number_box(limits["ops_hourly_rate"], step=5),
            "server_monthly": number_box(limits["server_monthly"], step=5),
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
        for name in state.optional_counts:
            hint = w.HTML(note_html("0: not known"), layout=w.Layout(margin="0 0 0 154px"))
            self.rows[name].children = (*self.rows[name].children, hint)
        self._watch(state, self._show_checklist, ["advice", "checked"])
        self._watch(state, self._show_current_ok, ["current"])
        self._show_checklist()
        self._show_current_ok()

    def _link(self, state: HasTraits, name: str, control: w.ValueWidget) -> None:
        # Not stated (None) has no place in a number box, a text box or a multi-select as
        # such: each shows it its own way, and gives it back as None (or a list).
        if name in DeploymentState.optional_counts:
            self._on_close(link((state, name), (control, "value"), transform=_count_shown).unlink)
        elif name == "gpu":
            self._on_close(link((state, name), (control, "value"), transform=_text_shown).unlink)
        elif name == "migration_triggers":
            listed = [value for _, value in control.options]

            def to_control(ids: list[str]) -> tuple[str, ...]:
                return tuple(t for t in ids if t in listed)

            shown_triggers = (to_control, list)
            self._on_close(link((state, name), (control, "value"), transform=shown_triggers).unlink)
        else:
            super()._link(state, name, control)

    def _show_current_ok(self, _change: Any = None) -> None:
        # Whether the platform in use works means nothing while there is none.
        self.show_field("current_ok", self.state.current is not None)

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


def _trigger_groups() -> list[Group]:
    """The guide's migration triggers under their categories, as the checkboxes show them."""
    from labadvisor.guides import deployment_guide

    return [
        (category.category, [(trigger.label, trigger.id) for trigger in category.triggers])
        for category in deployment_guide().migration_triggers
    ]


def _count_to_control(count: int | None) -> int:
    return NOT_STATED_NUMBER if count is None else count


def _count_to_state(typed: int) -> int | None:
    return None if typed == NOT_STATED_NUMBER else typed


def _text_to_control(text: str | None) -> str:
    return "" if text is None else text


def _text_to_state(typed: str) -> str | None:
    return typed.strip() or None


_count_shown = (_count_to_control, _count_to_state)
_text_shown = (_text_to_control, _text_to_state)
