"""What the ipywidgets views share. Importing this module imports ipywidgets.

Views ``traitlets.link`` their controls to a state's traits and observe the rest, so the
state stays the single source of truth for what is shown, whichever side changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
from traitlets import HasTraits, Unicode, link

from labadvisor.options import Option
from labadvisor.theme_colours import ERROR
from labadvisor.widgets._html import error_html, escape_dollars, field_error_html, outdated_html
from labadvisor.widgets._state import AdviceState, FieldRange

LABEL_WIDTH = "150px"
OUTDATED_CLASS = "labadvisor-outdated"
INVALID_CLASS = "labadvisor-invalid"
# An answer for inputs that are no longer the current ones is dimmed; a field holding a
# value out of range gets a red box. Widget HTML is not sanitised, so a <style> in an HTML
# widget reaches the page (and stays harmless in a stored notebook).
PANEL_STYLE = (
    "<style>"
    f".{OUTDATED_CLASS}{{opacity:.45}}"
    f".{INVALID_CLASS} input{{border-color:{ERROR} !important;outline:1px solid {ERROR}}}"
    "</style>"
)


class _NoChoice:
    """What a dropdown holds for a None option: ipywidgets takes a None value to mean that
    nothing is selected and shows a blank box, hiding the option's label."""

    def __repr__(self) -> str:
        return "NO_CHOICE"


NO_CHOICE: Any = _NoChoice()


def style() -> dict[str, str]:
    return {"description_width": LABEL_WIDTH}


def wide(width: str = "420px") -> w.Layout:
    # Room beside the 150px label for the longest choice ("not given (assumed from the
    # task)") at the widgets' font size: a cut-off choice reads like a blank one.
    return w.Layout(width=width)


def dropdown(description: str, options: Sequence[Option]) -> w.Dropdown:
    listed = [(label, NO_CHOICE if value is None else value) for label, value in options]
    return w.Dropdown(options=listed, description=description, style=style(), layout=wide())


def number_box(limits: FieldRange, *, step: float = 1, whole: bool = False) -> w.ValueWidget:
    """A text box for a number, labelled as ``limits`` names it. Unbounded on purpose: a
    bounded box would clamp what the person typed; the state reports it instead."""
    box = w.IntText if whole else w.FloatText
    return box(step=step, description=limits.label, style=style(), layout=wide())


class _DescribedImage(w.Image):
    """An image whose tooltip reaches the <img> as its title, the text alternative screen
    readers read: ipywidgets' views set a tooltip as the title only on a model that has a
    description, which Image lacks (and a tooltip without one breaks the view)."""

    description = Unicode("").tag(sync=True)


def described_image(text: str, width: str = "512px") -> w.Image:
    """A PNG image widget described by ``text`` for screen readers."""
    return _DescribedImage(format="png", tooltip=text, layout=w.Layout(width=width))


def shown(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def set_html(widget: w.HTML, value: str) -> None:
    """Show ``value`` in ``widget``, with every dollar sign in its text escaped, whoever
    wrote the HTML."""
    value = escape_dollars(value)
    # Each assignment is a comm message; skip the ones that change nothing.
    if widget.value != value:
        widget.value = value


def link_control(state: HasTraits, name: str, control: w.ValueWidget) -> link:
    """Two-way link between ``state.<name>`` and ``control.value``.

    A choice control shows None as its :data:`NO_CHOICE` option, and keeps showing its last
    value while the state holds one it does not list (the panel then shows the adviser's
    error about it). A number box keeps showing its value while the state holds None.
    """
    if not hasattr(control, "options"):
        # A number the state holds as None (the guide's, while the guide cannot be read)
        # leaves the box as it was.
        def keep_shown(value: Any) -> Any:
            return control.value if value is None else value

        return link((state, name), (control, "value"), transform=(keep_shown, _same))

    def to_control(value: Any) -> Any:
        value = NO_CHOICE if value is None else value
        return value if value in [v for _, v in control.options] else control.value

    def to_state(value: Any) -> Any:
        return None if value is NO_CHOICE else value

    return link((state, name), (control, "value"), transform=(to_control, to_state))


def _same(value: Any) -> Any:
    return value


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
    itself everywhere else, then what the panel adds (``extras``).

    A control whose input has a range (``state.limits``) has a line under it
    (``field_errors[name]``) that shows the state's range error; while there is one the
    answer (``answer``: error, advice and extras) is dimmed under a "not updated" note
    (``outdated_note``)."""

    def __init__(
        self,
        state: AdviceState,
        controls: dict[str, w.ValueWidget],
        extras: Sequence[w.Widget] = (),
    ) -> None:
        self.state = state
        self.controls = controls
        self.field_errors = {name: w.HTML() for name in controls if name in state.limits}
        # What shows or hides a field: the control with its error line, if it has one.
        self.rows: dict[str, w.Widget] = {
            name: w.VBox([control, self.field_errors[name]])
            if name in self.field_errors
            else control
            for name, control in controls.items()
        }
        self.error = w.HTML()
        self.advice = w.HTML()
        self.outdated_note = w.HTML()
        self.answer = w.VBox([self.error, self.advice, *extras])
        results = w.VBox(
            [w.HTML(PANEL_STYLE), self.outdated_note, self.answer],
            layout=w.Layout(flex="1 1 420px", min_width="320px"),
        )
        inputs = w.VBox(list(self.rows.values()), layout=w.Layout(flex="0 0 430px"))
        super().__init__([w.HBox([inputs, results], layout=w.Layout(flex_flow="row wrap"))])
        for name, control in controls.items():
            self._link(state, name, control)
        self._watch(state, self._show_advice, ["advice", "error"])
        self._watch(state, self._show_field_errors, ["field_errors"])
        self._show_advice()
        self._show_field_errors()

    def show_field(self, name: str, visible: bool) -> None:
        shown(self.controls[name], visible)
        shown(self.rows[name], visible)

    def _show_advice(self, _change: Any = None) -> None:
        advice = self.state.current_advice()
        set_html(self.error, error_html(self.state.error) if self.state.error else "")
        set_html(self.advice, "" if advice is None else advice._repr_html_())

    def _show_field_errors(self, _change: Any = None) -> None:
        problems = self.state.field_errors
        for name, line in self.field_errors.items():
            message = problems.get(name)
            set_html(line, "" if message is None else field_error_html(message))
            if message is None:
                self.controls[name].remove_class(INVALID_CLASS)
            else:
                self.controls[name].add_class(INVALID_CLASS)
        fields = "fields" if len(problems) > 1 else "field"
        if not problems:
            note = ""
        elif self.state.current_advice() is None and not self.state.error:
            note = f"⚠ no answer yet: fix the marked {fields}"
        else:
            note = f"⚠ not updated: fix the marked {fields}"
        set_html(self.outdated_note, outdated_html(note) if note else "")
        if problems:
            self.answer.add_class(OUTDATED_CLASS)
        else:
            self.answer.remove_class(OUTDATED_CLASS)
