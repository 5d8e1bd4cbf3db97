"""Colours for the HTML that labadvisor writes (advice, reports, notebook panels), taken from
JupyterLab's theme so that text keeps its contrast in light and dark themes alike.

Each colour is a JupyterLab theme variable with labadvisor's own colour as the fallback
(outside JupyterLab, where the variable is not defined). Text colours are the theme's
colour mixed a quarter of the way towards the theme's own text colour (black in a light
theme, white in a dark one): the theme colours alone fall short of WCAG's 4.5:1 on one
theme or the other (``--jp-warn-color0`` is 3.8:1 on the light theme's white; the fixed
``#b91c1c`` was 2.9:1 on the dark theme's ``#111``), and mixed they are at least 5.2:1 on
both themes' backgrounds. Lines and bars (not text) use the theme colour as it is.

JupyterLab's sanitizer drops ``var()`` from the styles of untrusted outputs; the text then
takes the theme's text colour, which is readable too.
"""

from __future__ import annotations

ERROR = "var(--jp-error-color1, #b91c1c)"
WARNING = "var(--jp-warn-color0, #9a6700)"
SUCCESS = "var(--jp-success-color1, #16a34a)"
ACCENT = "var(--jp-brand-color1, #2563eb)"
MUTED = "var(--jp-ui-font-color3, #9ca3af)"
TRACK = "var(--jp-layout-color3, #e5e7eb)"  # the empty part of a bar


def text_colour(colour: str) -> str:
    """``colour`` (one of this module's) as a text colour that keeps its contrast on the
    theme's background: mixed a quarter towards the theme's text colour."""
    return f"color-mix(in srgb, {colour} 75%, var(--jp-content-font-color0, currentColor))"


ERROR_TEXT = text_colour(ERROR)
WARNING_TEXT = text_colour(WARNING)
SUCCESS_TEXT = text_colour(SUCCESS)
# A row to pick out (this kernel's GPU processes): a tint of the success colour over the
# theme's background, under the theme's own text colour.
SUCCESS_TINT = f"color-mix(in srgb, {SUCCESS} 18%, transparent)"

__all__ = [
    "ACCENT",
    "ERROR",
    "ERROR_TEXT",
    "MUTED",
    "SUCCESS",
    "SUCCESS_TEXT",
    "SUCCESS_TINT",
    "TRACK",
    "WARNING",
    "WARNING_TEXT",
    "text_colour",
]
