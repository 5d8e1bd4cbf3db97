"""The Binder set-up stays in step with the package. binder/replay.sh (run by `make test`)
replays the build itself; these checks catch drift before that slow step."""

from __future__ import annotations

import os
import re
from pathlib import Path

from labadvisor.guides import tomllib

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_binder_requirements_are_the_runtime_dependencies_with_their_ranges() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {
        _name(dep): dep.replace(" ", "")
        for dep in pyproject["project"]["dependencies"]
        if "python_version" not in dep  # back-ports for older Pythons than Binder's
    }
    binder = {_name(r): r.replace(" ", "") for r in _requirements()}
    assert binder == runtime


def test_post_build_is_executable_and_installs_the_package() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    text = post_build.read_text()
    assert "pip install" in text and re.search(r"pip install [^\n]*\s\.$", text, re.M)
    assert 'c.InteractiveShellApp.extensions = ["labadvisor"]' in text


def test_readme_badge_opens_an_existing_notebook_in_lab() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s]+urlpath=lab/tree/([^)\s]+)", readme)
    assert links, "README has no Binder badge linking into JupyterLab"
    for path in links:
        assert (ROOT / path).is_file(), path
