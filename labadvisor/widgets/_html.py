"""The few HTML pieces the views add around what advice objects render themselves.

Every piece of text goes through :func:`esc`, which also writes ``$`` as ``&#36;``: two
dollar signs in one output are otherwise read by JupyterLab as the ends of a LaTeX formula
("$75/month vs $90/month" set in italics as mathematics).
"""

from __future__ import annotations

import html
import re

DOLLAR = "&#36;"
# A tag, a comment, or the text of a style or script element: places where "$" is markup,
# not text, and where an entity would not be decoded.
_MARKUP = re.compile(r"<(style|script)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)


def esc(text: str) -> str:
    """``text`` as HTML: markup characters and dollar signs escaped."""
    return html.escape(text).replace("$", DOLLAR)


def escape_dollars(markup: str) -> str:
    """``markup`` with every ``$`` in its text written as ``&#36;``; tags, comments, style
    and script elements are left as they are. For HTML the panels embed but did not write
    (an advice's own rendering), which may already be escaped: escaping twice is harmless."""
    parts: list[str] = []
    position = 0
    for match in _MARKUP.finditer(markup):
        parts.append(markup[position : match.start()].replace("$", DOLLAR))
        parts.append(match.group(0))
        position = match.end()
    parts.append(markup[position:].replace("$", DOLLAR))
    return "".join(parts)


def error_html(message: str) -> str:
    return (
        "<div class='labadvisor-error' style='color:#b91c1c;border-left:3px solid #b91c1c;"
        f"padding-left:6px'>{esc(message)}</div>"
    )


def field_error_html(message: str) -> str:
    """A range error under its field, indented to line up with the field's input box."""
    return (
        "<div class='labadvisor-field-error' role='alert' style='color:#b91c1c;"
        f"font-size:.9em;margin:0 0 4px 154px'>{esc(message)}</div>"
    )


def outdated_html(text: str) -> str:
    """The note over an answer that is not for the current inputs."""
    return (
        "<div class='labadvisor-outdated-note' style='color:#9a6700;font-weight:600'>"
        f"{esc(text)}</div>"
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
