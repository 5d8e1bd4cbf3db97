"""What every panel state shares: observers, and a compact HTML vocabulary for the views.

States call observers synchronously on the thread that changed them; views re-render from
the state in their observer, so a state is the single source of truth for what is shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable

from labadvisor.explain import Reason

Observer = Callable[[str], None]


class Observable:
    """A minimal observer list; ``what`` tells observers which part of the state changed."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def observe(self, callback: Observer) -> Observer:
        if callback not in self._observers:
            self._observers.append(callback)
        return callback

    def unobserve(self, callback: Observer) -> None:
        if callback in self._observers:
            self._observers.remove(callback)

    def _notify(self, what: str) -> None:
        for callback in list(self._observers):
            callback(what)


esc = html.escape

# The colours the JupyterLab front end uses for the same choices, so panels and the
# sidebar read alike.
CHOICE_COLOURS = {
    "local-cpu": "#2563eb",
    "local-gpu": "#16a34a",
    "offload": "#ea580c",
    "docker-compose": "#0e7490",
    "k3s": "#7c3aed",
}


def choice_html(label: str, choice: str, caption: str) -> str:
    colour = CHOICE_COLOURS.get(choice, "#111827")
    return (
        f"<div style='opacity:.7;font-size:.9em'>{esc(caption)}</div>"
        f"<div class='labadvisor-choice' style='font-size:1.8em;font-weight:bold;"
        f"color:{colour}'>{esc(label)}</div>"
    )


def reasons_html(reasons: Iterable[Reason]) -> str:
    items = "".join(
        f"<li>{esc(r.text)}<br><small style='opacity:.65'>[{esc(r.rule)}] {esc(r.source)}"
        "</small></li>"
        for r in reasons
    )
    return f"<b>Why</b><ul style='margin-top:2px'>{items}</ul>"


def warnings_html(warnings: Iterable[str]) -> str:
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    if not items:
        return ""
    return (
        f"<div style='color:#9a3412'><b>Warnings</b><ul style='margin-top:2px'>{items}</ul></div>"
    )


def error_html(message: str) -> str:
    return (
        "<div class='labadvisor-error' style='color:#b91c1c;border-left:3px solid #b91c1c;"
        f"padding-left:6px'>{esc(message)}</div>"
    )


def bar_html(fraction: float | None, *, width: int = 160, colour: str = "#2563eb") -> str:
    """A horizontal bar in plain HTML: renders in stored notebooks and costs microseconds."""
    if fraction is None:
        return "<span style='opacity:.6'>unknown</span>"
    filled = max(0.0, min(1.0, fraction)) * width
    return (
        f"<span style='display:inline-block;width:{width}px;height:10px;background:#e5e7eb;"
        f"border-radius:3px;vertical-align:middle'><span style='display:block;width:{filled:.0f}px;"
        f"height:10px;background:{colour};border-radius:3px'></span></span>"
    )
