"""Re-execute the demo notebooks in place so their stored outputs match the code.

Runs each notebook top to bottom in a throw-away HOME and Docker config (as a Binder visitor
would see them: no ~/.docker of yours, no GPU unless this machine has one), keeps no widget
state and no per-cell timing metadata, so a refresh changes only what the code changed.

    .venv/bin/python scripts/refresh_notebooks.py [NOTEBOOK ...]   (default: notebooks/*.ipynb)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def refresh(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    runner = ExecutePreprocessor(timeout=300, kernel_name="python3", store_widget_state=False)
    runner.preprocess(notebook, {"metadata": {"path": str(path.parent)}})
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="labadvisor-refresh-") as home:
        os.environ.update(HOME=home, DOCKER_CONFIG=str(Path(home) / ".docker"))
        for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "LABADVISOR_CONFIG", "IPYTHONDIR"):
            os.environ.pop(name, None)
        for path in paths:
            print(f"executing {path}")
            refresh(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
