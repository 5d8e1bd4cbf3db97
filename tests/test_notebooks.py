"""The demo notebooks' markdown: a dollar sign meant as money is written ``\\\\$``.

JupyterLab reads two dollar signs in one markdown cell ("~$75/month ... ~$0.50/hour") as the
ends of a LaTeX formula and sets the text between them as mathematics. A single backslash is
not enough there: the markdown renderer turns ``\\$`` into ``$`` before MathJax scans the
page, so MathJax still pairs them (jupyterlab/jupyterlab#8645, checked by the browser test
``test_no_dollar_sign_is_typeset_after_run_all``). ``\\\\$`` reaches MathJax as ``\\$``,
which it shows as a plain dollar. Dollars inside code (```` ``` ```` blocks and `` `spans` ``)
are left alone by its math pass, and so by this check.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
_FENCED = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_BARE_DOLLAR = re.compile(r"(?<!\\\\)\$")


def unescaped_dollars(markdown: str) -> list[str]:
    """The lines of ``markdown`` with a ``$`` outside code not written as ``\\\\$``."""
    prose = _CODE_SPAN.sub("", _FENCED.sub("", markdown))
    return [line for line in prose.splitlines() if _BARE_DOLLAR.search(line)]


@pytest.mark.parametrize(
    ("markdown", "flagged"),
    [
        ("~$75/month against ~$0.50/hour", ["~$75/month against ~$0.50/hour"]),
        ("costs $5", ["costs $5"]),
        (r"~\$75/month against ~\$0.50/hour", [r"~\$75/month against ~\$0.50/hour"]),
        (r"~\\$75/month against ~\\$0.50/hour", []),
        ("run `echo $HOME` first", []),
        ("```bash\nexport A=$B\n```\nthen $5", ["then $5"]),
        ("no money here", []),
    ],
)
def test_the_check_finds_bare_dollars_outside_code(markdown, flagged):
    assert unescaped_dollars(markdown) == flagged


def test_there_are_notebooks_to_check():
    names = [path.name for path in NOTEBOOKS]
    assert "06-costs-and-breakeven.ipynb" in names and len(names) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_no_markdown_cell_has_an_unescaped_dollar(path: Path):
    notebook = nbformat.read(path, as_version=4)
    bad = {
        index: lines
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown" and (lines := unescaped_dollars(cell.source))
    }
    assert bad == {}, f"{path.name}: write money as \\\\$ in markdown cells {bad}"
