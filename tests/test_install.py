"""The installed package registers its front end and server extension with Jupyter.

`make lab` / `make test` install the package (editable) first; these tests check what
that install left behind, through the venv's own `jupyter` command. The slow test builds
a wheel from a clean clone, as a user's `pip install` would, and checks what it ships.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from labadvisor.guides import tomllib

ROOT = Path(__file__).resolve().parent.parent
JUPYTER = Path(sys.executable).parent / "jupyter"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(*args: str) -> str:
    """Output (stdout + stderr, without colours) of the venv's `jupyter ARGS`."""
    assert JUPYTER.exists(), f"{JUPYTER} missing: is the package installed (make install)?"
    done = subprocess.run(
        [str(JUPYTER), *args], capture_output=True, text=True, timeout=120, check=True
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_labextension_is_installed_and_enabled() -> None:
    from labadvisor import __version__

    out = jupyter("labextension", "list")
    # "(python, labadvisor)" comes from install.json: how to uninstall it.
    line = rf"^\s*labadvisor v{re.escape(__version__)} enabled OK \(python, labadvisor\)$"
    assert re.search(line, out, re.M), out


def test_version_is_written_once_in_package_json() -> None:
    """jupyter_ext/package.json sets the version; the installed metadata and
    labadvisor.__version__ (from the build's labadvisor/_version.py) follow it."""
    from importlib.metadata import version

    import labadvisor

    package = json.loads((ROOT / "jupyter_ext" / "package.json").read_text())
    assert labadvisor.__version__ == package["version"]
    assert version("labadvisor") == package["version"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]


def test_server_extension_is_enabled_and_valid() -> None:
    out = jupyter("server", "extension", "list")
    assert re.search(r"^\s*labadvisor enabled$", out, re.M), out
    assert re.search(r"^\s*labadvisor \S+ OK$", out, re.M), out


@pytest.mark.slow
def test_wheel_from_clean_clone_ships_front_end_and_server_config(tmp_path: Path) -> None:
    """`pip wheel` of a fresh clone builds the front end; the wheel needs no Node.js."""
    from labadvisor import __version__

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone / "labadvisor" / "labextension").exists()
    env = dict(os.environ)
    env.setdefault("YARN_CACHE_FOLDER", str(ROOT / ".yarn-cache"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(clone)],
        check=True,
        timeout=600,
        env=env,
    )
    (wheel,) = tmp_path.glob("labadvisor-*.whl")
    version = json.loads((ROOT / "jupyter_ext" / "package.json").read_text())["version"]
    assert version == __version__
    assert wheel.name == f"labadvisor-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"labadvisor-{version}.dist-info/METADATA").decode()
        version_module = archive.read("labadvisor/_version.py").decode()
        data = f"labadvisor-{__version__}.data/data"
        config = json.loads(
            archive.read(f"{data}/etc/jupyter/jupyter_server_config.d/labadvisor.json")
        )
        lab = f"{data}/share/jupyter/labextensions/labadvisor"
        package = json.loads(archive.read(f"{lab}/package.json"))
        schema = json.loads(archive.read(f"{lab}/schemas/labadvisor/plugin.json"))
        install = json.loads(archive.read(f"{lab}/install.json"))
    assert f"\nVersion: {version}\n" in metadata
    assert f"__version__ = VERSION = {version!r}" in version_module
    assert install["packageManager"] == "python"
    assert install["packageName"] == "labadvisor"
    assert "labadvisor" in install["uninstallInstructions"]
    assert config == {"ServerApp": {"jpserver_extensions": {"labadvisor": True}}}
    assert (package["name"], package["version"]) == ("labadvisor", version)
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
    assert f"{lab}/{package['jupyterlab']['_build']['load']}" in names
    assert f"{lab}/static/style.js" in names
    assert set(schema["properties"]) == {
        "pollInterval",
        "showGpu",
        "showContext",
        "showOffloadMeter",
        "monthlyBudget",
        "idleReminderMinutes",
    }
    assert {"labadvisor/server/__init__.py", "labadvisor/server/app.py"} <= names
