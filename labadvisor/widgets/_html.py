"""The few HTML pieces the views add around what advice objects render themselves.

Dollar signs: two in one output ("$75/month vs $90/month") are read by JupyterLab as the
ends of a LaTeX formula and set as mathematics. An entity alone does not stop that, since
MathJax reads the page's text, where ``&#36;`` is a ``$`` again (checked in Chromium with
JupyterLab 4.6); MathJax looks for a formula within one element's text only, so each ``$``
of the text is written as ``&#36;`` in an element of its own (:data:`DOLLAR`), where no
second ``$`` can close a formula. :func:`esc` escapes text (``&#36;``, which is also safe
in attribute values), and ``set_html`` passes every widget's HTML through
:func:`escape_dollars`, which wraps each dollar of its text.
"""

from __future__ import annotations

import html
import re

from labadvisor.theme_colours import ACCENT, ERROR, ERROR_TEXT, TRACK, WARNING_TEXT

DOLLAR_OPEN = "<span class='labadvisor-dollar'>"
DOLLAR = f"{DOLLAR_OPEN}&#36;</span>"
# A tag, a comment, or a style or script element: places where "$" is markup, not text.
_MARKUP = re.compile(r"<(style|script)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)
_TEXT_DOLLAR = re.compile(r"\$|&#0*36;|&#x0*24;|&dollar;", re.IGNORECASE)


def esc(text: str) -> str:
    """``text`` as HTML: markup characters escaped, and dollar signs written ``&#36;``."""
    return html.escape(text).replace("$", "&#36;")


def escape_dollars(markup: str) -> str:
    """``markup`` with every dollar sign of its text, raw or already an entity, in an element
    of its own (:data:`DOLLAR`); tags, comments, style and script elements are left as they
    are. Safe on HTML the panels did not write (an advice's own rendering) and on its own
    output: running it twice changes nothing."""
    parts: list[str] = []
    position = 0
    previous_tag = ""
    for match in _MARKUP.finditer(markup):
        parts.append(_wrap(markup[position : match.start()], previous_tag))
        parts.append(match.group(0))
        previous_tag = match.group(0)
        position = match.end()
    parts.append(_wrap(markup[position:], previous_tag))
    return "".join(parts)


def _wrap(text: str, previous_tag: str) -> str:
    if previous_tag == DOLLAR_OPEN and text == "&#36;":
        return text  # wrapped already
    return _TEXT_DOLLAR.sub(DOLLAR, text)


def error_html(message: str) -> str:
    return (
        f"<div class='labadvisor-error' style='color:{ERROR_TEXT};border-left:3px solid {ERROR};"
        f"padding-left:6px'>{esc(message)}</div>"
    )


def field_error_html(message: str) -> str:
    """A range error under its field, indented to line up with the field's input box."""
    return (
        f"<div class='labadvisor-field-error' role='alert' style='color:{ERROR_TEXT};"
        f"font-size:.9em;margin:0 0 4px 154px'>{esc(message)}</div>"
    )


def outdated_html(text: str) -> str:
    """The note over an answer that is not for the current inputs."""
    return (
        f"<div class='labadvisor-outdated-note' style='color:{WARNING_TEXT};font-weight:600'>"
        f"{esc(text)}</div>"
    )


def note_html(text: str) -> str:
    """A quiet line: progress, hints, "waiting for…"."""
    return f"<small style='opacity:.7'>{esc(text)}</small>"


def bar_html(fraction: float | None, *, width: int = 160, colour: str = ACCENT) -> str:
    """A horizontal bar in plain HTML: renders in stored notebooks and costs microseconds."""
    if fraction is None:
        return "<span style='opacity:.6'>unknown</span>"
    filled = max(0.0, min(1.0, fraction)) * width
    return (
        f"<span style='display:inline-block;width:{width}px;height:10px;background:{TRACK};"
        f"border-radius:3px;vertical-align:middle'><span style='display:block;width:{filled:.0f}px;"
        f"height:10px;background:{colour};border-radius:3px'></span></span>"
    )
