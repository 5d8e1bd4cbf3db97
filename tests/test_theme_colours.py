"""The HTML labadvisor writes colours its text by JupyterLab's theme (issue 13: the error
and "does not fit" text was a fixed #b91c1c, 2.9:1 on the dark theme's background): no fixed
colour outside a theme variable's fallback, in the source and in the panels as rendered in
their error, warning and does-not-fit states."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

import labadvisor
from labadvisor.gpu import GpuReport
from labadvisor.gpu.process_report import GpuProcess
from labadvisor.theme_colours import ERROR, ERROR_TEXT, SUCCESS, WARNING, WARNING_TEXT
from labadvisor.widgets._html import error_html, field_error_html, outdated_html
from labadvisor.widgets._view import PANEL_STYLE
from labadvisor.widgets.context_view import _engine_html
from labadvisor.widgets.deployment_view import DeploymentPanel
from labadvisor.widgets.gpu_view import _process_row
from labadvisor.widgets.runtime_view import RuntimePanel

PACKAGE = Path(labadvisor.__file__).parent
# matplotlib figures (drawn as images, on their own white background) pick their colours
# from these modules; the colours' own module holds the fallbacks.
NOT_HTML = {"plots.py", "widgets/_plot.py", "theme_colours.py"}
HEX = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
# A theme variable with a fixed fallback: the one place a fixed colour may appear.
THEMED = re.compile(r"var\(--jp-[\w-]+(?:,\s*#[0-9a-fA-F]{3,8})?\)")
STYLES = re.compile(
    r"""style\s*=\s*'([^']*)'|style\s*=\s*"([^"]*)"|<style\b[^>]*>(.*?)</style>""",
    re.IGNORECASE | re.DOTALL,
)
COLOUR_FUNCTIONS = re.compile(r"\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(", re.IGNORECASE)
NAMED = re.compile(r"\b(?:red|green|blue|orange|black|white|gr[ae]y|crimson|darkred)\b", re.I)
# Declarations that colour text (or what text sits on): each takes the theme's colours.
TEXT_COLOUR = re.compile(r"(?<![-\w])(?:color|background(?:-color)?)\s*:\s*([^;{}]+)", re.I)


def _string_literals(source: str) -> list[str]:
    """The string constants of a module, docstrings left out (they cite "requests#3829")."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_source_writes_fixed_colours_only_as_theme_fallbacks() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in NOT_HTML:
            continue
        for text in _string_literals(path.read_text()):
            if HEX.search(THEMED.sub("", text)) or COLOUR_FUNCTIONS.search(text):
                offenders.append(f"{name}: {text!r}")
    assert offenders == []


def _bare_colours(markup: str) -> list[str]:
    """Every colouring declaration in ``markup``'s styles that does not take its colour
    from a JupyterLab theme variable, and every fixed colour outside a variable's fallback."""
    found = []
    for match in STYLES.finditer(markup):
        css = next(group for group in match.groups() if group is not None)
        for value in TEXT_COLOUR.findall(css):
            if "var(--jp-" not in value:
                found.append(value.strip())
        rest = THEMED.sub("", css)
        found += HEX.findall(rest) + COLOUR_FUNCTIONS.findall(rest) + NAMED.findall(rest)
    return found


def test_the_check_finds_a_fixed_colour() -> None:
    # The check itself: the markup the panels wrote before (fails if it stops seeing them).
    assert _bare_colours("<div style='color:#b91c1c;padding:2px'>x</div>") == [
        "#b91c1c",
        "#b91c1c",
    ]
    assert _bare_colours('<b style="color: red">x</b>') == ["red", "red"]
    assert _bare_colours("<style>.x input{border-color:#b91c1c}</style>") == ["#b91c1c"]
    assert _bare_colours("<tr style='background:#dcfce7'>") == ["#dcfce7", "#dcfce7"]
    assert _bare_colours(f"<p style='color:{ERROR_TEXT}'>x</p><p>#1 step</p>") == []


def _panel_html(widget: object) -> list[str]:
    """The HTML of every HTML widget inside ``widget``."""
    out = []
    value = getattr(widget, "value", None)
    if type(widget).__name__ == "HTML" and isinstance(value, str):
        out.append(value)
    for child in getattr(widget, "children", ()):
        out += _panel_html(child)
    return out


def test_the_runtime_panel_in_its_error_states_takes_the_themes_colours() -> None:
    panel = RuntimePanel(gpu=12.0, size_gb=11)
    assert "does not fit" in panel.fit.value
    assert f"color:{ERROR_TEXT}" in panel.fit.value
    panel.controls["size_gb"].value = -5
    assert panel.state.field_errors  # an error under the field, and the answer marked
    shown = _panel_html(panel)
    assert any("labadvisor-field-error" in markup for markup in shown)
    assert any("labadvisor-outdated-note" in markup for markup in shown)
    assert [bare for markup in shown for bare in _bare_colours(markup)] == []
    panel.close()


def test_the_deployment_panels_warnings_take_the_themes_colours() -> None:
    panel = DeploymentPanel(users=20, high_availability=True)
    advice = panel.state.advice
    assert advice is not None and advice.warnings
    assert f"color:{WARNING_TEXT}" in panel.advice.value
    assert [bare for markup in _panel_html(panel) for bare in _bare_colours(markup)] == []
    panel.close()


def test_every_coloured_piece_takes_the_themes_colours() -> None:
    process = GpuProcess(pid=1, holder="this-kernel", memory_used=2**30)
    pieces = [
        error_html("bad"),
        field_error_html("Users must be between 1 and 100,000; got -3"),
        outdated_html("not updated"),
        PANEL_STYLE,
        _process_row(process, 2**32),
        _process_row(GpuProcess(pid=2, holder="not-visible", memory_used=2**30), 2**32),
        _process_row(GpuProcess(pid=3, holder="other", memory_used=2**30), 2**32),
        _engine_html(SimpleNamespace(reachable=False, error="refused"), None),
        _engine_html(
            SimpleNamespace(
                reachable=True, server_version="27", gpu=False, gpu_sources=[], round_trip_ms=3
            ),
            None,
        ),
        GpuReport(status="ok", message="1 GPU")._repr_html_(),
        GpuReport(status="library-not-found", message="no NVML")._repr_html_(),
        labadvisor.advise_deployment(20, high_availability=True)._repr_html_(),
    ]
    for markup in pieces:
        assert _bare_colours(markup) == [], markup
    # Errors, warnings and successes each keep their own theme colour.
    assert ERROR in error_html("bad") and ERROR in PANEL_STYLE
    assert WARNING in outdated_html("x") and SUCCESS in _process_row(process, 2**32)


@pytest.mark.parametrize("colour", [ERROR_TEXT, WARNING_TEXT])
def test_text_colours_lean_towards_the_themes_text_colour(colour: str) -> None:
    # The theme's colour alone is too faint on one theme or the other (see theme_colours).
    assert colour.startswith("color-mix(in srgb, var(--jp-")
    assert colour.endswith("75%, var(--jp-content-font-color0, currentColor))")
