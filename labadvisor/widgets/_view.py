"""What the ipywidgets views share. Importing this module imports ipywidgets.

Views ``traitlets.link`` their controls to a state's traits and observe the rest, so the
state stays the single source of truth for what is shown, whichever side changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
from traitlets import HasTraits, link

from labadvisor.options import Option
from labadvisor.widgets._html import error_html
from labadvisor.widgets._state import AdviceState

LABEL_WIDTH = "150px"


class _NoChoice:
    """What a dropdown holds for a None option: ipywidgets takes a None value to mean that
    nothing is selected and shows a blank box, hiding the option's label."""

    def __repr__(self) -> str:
        return "NO_CHOICE"


NO_CHOICE: Any = _NoChoice()


def style() -> dict[str, str]:
    return {"description_width": LABEL_WIDTH}


def wide(width: str = "330px") -> w.Layout:
    return w.Layout(width=width)


def dropdown(description: str, options: Sequence[Option]) -> w.Dropdown:
    listed = [(label, NO_CHOICE if value is None else value) for label, value in options]
    return w.Dropdown(options=listed, description=description, style=style(), layout=wide())


def shown(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def set_html(widget: w.HTML, value: str) -> None:
    # Each assignment is a comm message; skip the ones that change nothing.
    if widget.value != value:
        widget.value = value


def link_control(state: HasTraits, name: str, control: w.ValueWidget) -> link:
    """Two-way link between ``state.<name>`` and ``control.value``.

    A choice control shows None as its :data:`NO_CHOICE` option, and keeps showing its last
    value while the state holds one it does not list (the panel then shows the adviser's
    error about it).
    """
    if not hasattr(control, "options"):
        return link((state, name), (control, "value"))

    def to_control(value: Any) -> Any:
        value = NO_CHOICE if value is None else value
        return value if value in [v for _, v in control.options] else control.value

    def to_state(value: Any) -> Any:
        return None if value is NO_CHOICE else value

    return link((state, name), (control, "value"), transform=(to_control, to_state))


class Panel(w.Widget):
    """What every panel shares: a short text form (stored notebooks and terminals would
    otherwise print the whole widget tree), and closing that detaches it from its state."""

    panel_title = "labadvisor panel"

    def _link(self, state: HasTraits, name: str, control: w.ValueWidget) -> None:
        self._on_close(link_control(state, name, control).unlink)

    def _watch(
        self, state: HasTraits, callback: Callable[[Any], None], names: Sequence[str]
    ) -> None:
        state.observe(callback, names=list(names))
        self._on_close(lambda: state.unobserve(callback, names=list(names)))

    def _on_close(self, undo: Callable[[], None]) -> None:
        self.__dict__.setdefault("_undo_on_close", []).append(undo)

    def close(self) -> None:
        for undo in self.__dict__.pop("_undo_on_close", []):
            undo()
        super().close()

    def __repr__(self) -> str:
        return f"<{self.panel_title}: run the notebook to use it>"


class AdvicePanel(Panel, w.VBox):
    """The runtime and deployment panels: controls on the left, each linked to the input
    trait it is named after; on the right the adviser's error, or the advice as it renders
    itself everywhere else, then what the panel adds (``extras``)."""

    def __init__(
        self,
        state: AdviceState,
        controls: dict[str, w.ValueWidget],
        extras: Sequence[w.Widget] = (),
    ) -> None:
        self.state = state
        self.controls = controls
        self.error = w.HTML()
        self.advice = w.HTML()
        results = w.VBox(
            [self.error, self.advice, *extras],
            layout=w.Layout(flex="1 1 420px", min_width="320px"),
        )
        inputs = w.VBox(list(controls.values()), layout=w.Layout(flex="0 0 340px"))
        super().__init__([w.HBox([inputs, results], layout=w.Layout(flex_flow="row wrap"))])
        for name, control in controls.items():
            self._link(state, name, control)
        self._watch(state, self._show_advice, ["advice", "error"])
        self._show_advice()

    def _show_advice(self, _change: Any = None) -> None:
        advice = self.state.current_advice()
        set_html(self.error, error_html(self.state.error) if self.state.error else "")
        set_html(self.advice, "" if advice is None else advice._repr_html_())
