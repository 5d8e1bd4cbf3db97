"""A several-choice picker shown as grouped checkboxes, with SelectMultiple's ``options``,
``value`` and ``label``: a multi-select box cuts long labels at its width and hides the
choices past its rows; checkboxes under group headings show every choice whole."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
from traitlets import Tuple

# A label's text does not wrap in a checkbox (one line, ellipsis): the group heading
# carries what all the group's labels would otherwise repeat, so each label stays short.
Group = tuple[str, Sequence[tuple[str, str]]]  # heading, [(short label, value)]


class CheckboxChoices(w.VBox, w.ValueWidget):
    """``options`` are (label, value) pairs as a SelectMultiple takes them; ``groups`` give
    the same values under headings with the shorter labels the boxes show."""

    value = Tuple(help="The values ticked, in the order of options.")

    def __init__(
        self, options: Sequence[tuple[str, str]], groups: Sequence[Group], description: str
    ) -> None:
        self.options = list(options)
        grouped = [value for _, choices in groups for _, value in choices]
        if sorted(grouped) != sorted(value for _, value in self.options):
            raise ValueError("the groups must list each option's value once")
        self.boxes: dict[str, w.Checkbox] = {}
        self._showing = False  # boxes being set from value: not ticks
        children: list[w.Widget] = [w.HTML(f"<b>{html.escape(description)}</b>")]
        for heading, choices in groups:
            children.append(w.HTML(f"<i>{html.escape(heading)}</i>"))
            for label, value in choices:
                box = w.Checkbox(
                    description=label,
                    indent=False,
                    style={"description_width": "initial"},
                    layout=w.Layout(width="auto", margin="0 0 0 12px"),
                )
                box.observe(self._ticked, names="value")
                self.boxes[value] = box
                children.append(box)
        super().__init__(children)
        self.observe(self._show_value, names="value")

    @property
    def label(self) -> tuple[str, ...]:
        labels = dict((value, label) for label, value in self.options)
        return tuple(labels[value] for value in self.value)

    @label.setter
    def label(self, labels: Sequence[str]) -> None:
        values = dict(self.options)
        self.value = tuple(values[label] for label in labels)

    def _ticked(self, _change: Any) -> None:
        if self._showing:
            return
        ticked = tuple(value for _, value in self.options if self.boxes[value].value)
        if ticked != self.value:
            self.value = ticked

    def _show_value(self, change: Any) -> None:
        chosen = set(change["new"])
        self._showing = True
        try:
            for value, box in self.boxes.items():
                box.value = value in chosen
        finally:
            self._showing = False
