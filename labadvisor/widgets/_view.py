"""Helpers the ipywidgets views share. Importing this module imports ipywidgets."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from traitlets import TraitError

LABEL_WIDTH = "150px"


def style() -> dict[str, str]:
    return {"description_width": LABEL_WIDTH}


def wide(width: str = "330px") -> w.Layout:
    return w.Layout(width=width)


def shown(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def set_html(widget: w.HTML, value: str) -> None:
    # Each assignment is a comm message; skip the ones that change nothing.
    if widget.value != value:
        widget.value = value


def sync_value(control: w.ValueWidget, value: Any) -> None:
    """Show ``value`` in ``control`` when it can hold it (a state may hold a value a
    dropdown does not list; the panel then shows the state's error instead)."""
    if control.value == value:
        return
    with contextlib.suppress(TraitError):
        control.value = value


def bind(controls: dict[str, w.ValueWidget], handler: Callable[[str, Any], None]) -> None:
    """Call ``handler(name, new_value)`` whenever a control's value changes."""
    for name, control in controls.items():
        control.observe(lambda change, name=name: handler(name, change["new"]), names="value")


class PanelMixin:
    """What every panel shares: a short text form (stored notebooks and terminals would
    otherwise print the whole widget tree) and closing that detaches from the state."""

    panel_title = "labadvisor panel"

    def close(self) -> None:
        state = getattr(self, "state", None)
        if state is not None:
            state.unobserve(self._on_state)  # type: ignore[attr-defined]
        super().close()  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<{self.panel_title}: run the notebook to use it>"
