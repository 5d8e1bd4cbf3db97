"""The few HTML pieces the views add around what advice objects render themselves."""

from __future__ import annotations

import html

esc = html.escape


def error_html(message: str) -> str:
    return (
        "<div class='labadvisor-error' style='color:#b91c1c;border-left:3px solid #b91c1c;"
        f"padding-left:6px'>{esc(message)}</div>"
    )


def note_html(text: str) -> str:
    """A quiet line: progress, hints, "waiting for…"."""
    return f"<small style='opacity:.7'>{esc(text)}</small>"


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
