"""Real JupyterLab in Debian's headless Chromium, for the browser tests: importing
``lab_fixture`` and ``page_fixture`` gives a test module the ``lab`` and ``page`` fixtures.

The Lab server is started with the installed extension (as `make lab` would run it), its
Docker contexts pointing at the two real test engines: ``desktop-linux`` (local) and
``docker-cloud`` (offload). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docker_engines import DockerEngines
from local_servers import free_port, serving
from server_fixtures import DockerStore, make_store

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# What MathJax (2 and 3) and KaTeX leave in the page when they typeset something.
MATH_NODES = (
    "mjx-container, .MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_SVG, "
    "script[type^='math/tex'], .katex, .katex-display"
)


@dataclass(frozen=True)
class Lab:
    url: str  # ends with "/"
    token: str
    store: DockerStore
    log: Path
    root: Path  # the server's root_dir (notebooks live here)

    def api(self, route: str) -> Any:
        return self.rest("GET", f"labadvisor/api/{route}")

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """Any route of the server, as JSON (None for an empty answer)."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def error_message(self, method: str, path: str, body: Any = None) -> str:
        """The ``message`` of a request the server refuses (fails the test if it does not)."""
        try:
            self.rest(method, path, body)
        except urllib.error.HTTPError as exc:
            return str(json.loads(exc.read())["message"])
        pytest.fail(f"{method} {path} {body!r} was accepted")


def require_browser() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} missing (Debian package chromium; `make test` installs it)"
        if os.environ.get("LABADVISOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LABADVISOR_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@contextlib.contextmanager
def running_lab(engines: DockerEngines, root: Path, *options: str) -> Iterator[Lab]:
    """JupyterLab with the installed extension, its Docker contexts pointing at the test
    engines; ``options`` are extra command-line settings (``--LabAdvisor.x=y``)."""
    store = make_store(engines, root / "docker-config")
    config = root / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    # No "get notified about Jupyter news?" pop-up, and no request to the news feed.
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    (root / "notebooks").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "JUPYTER_"))}
    env.update(
        store.env(),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(root / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(root / "jupyter-runtime"),
    )
    port, token = free_port(), os.urandom(12).hex()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        f"--LabApp.user_settings_dir={root / 'lab-settings'}",
        f"--LabApp.workspaces_dir={root / 'lab-workspaces'}",
        *options,
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = root / "lab.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    lab = Lab(f"http://127.0.0.1:{port}/", token, store, log, root / "notebooks")
    with serving(server, log, lambda: lab.api("advise/options"), "jupyter lab"):
        yield lab


@pytest.fixture(scope="module", name="lab")
def lab_fixture(
    docker_engines: DockerEngines, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    require_browser()
    with running_lab(docker_engines, tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(name="page")
def page_fixture(lab: Lab) -> Iterator[Any]:
    """A fresh browser on the Lab page. Function-scoped on purpose: Playwright's sync API
    keeps its own event loop marked as running, which must not outlive the test's loop
    fixture from pytest-jupyter."""
    with open_page(lab) as opened:
        yield opened


@contextlib.contextmanager
def open_page(lab: Lab, before_load: Callable[[Any], None] | None = None) -> Iterator[Any]:
    """The Lab page in a new browser; ``before_load(page)`` runs before it is loaded (to
    route requests). JavaScript errors naming labadvisor fail the test."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            if before_load is not None:
                before_load(page)
            # The switch commands appear once GET config has answered: wait for it too.
            with page.expect_response(
                lambda r: r.url.split("?")[0].endswith("/labadvisor/api/config")
            ):
                page.goto(f"{lab.url}lab?token={lab.token}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
            page.locator("#labadvisor-status").wait_for()
            yield page
            assert not [e for e in errors if "labadvisor" in e.lower()], errors
        finally:
            browser.close()


def run_command(page: Any, command: str, args: dict[str, Any] | None = None) -> None:
    """Execute a JupyterLab command and wait for it (not for what it returns: a widget
    cannot be sent back to Python)."""
    page.evaluate(
        "async ([id, args]) => { await window.jupyterapp.commands.execute(id, args); }",
        [command, args or {}],
    )


def close_and_shut_down(page: Any) -> None:
    """Close the active notebook and shut its kernel down, confirming JupyterLab's dialog
    (the command's promise waits for that dialog, so it is not awaited)."""
    from playwright.sync_api import expect

    page.evaluate(
        "() => { void window.jupyterapp.commands.execute('notebook:close-and-shutdown'); }"
    )
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-mod-accept").click()
    expect(dialog).to_have_count(0)


def screenshot(page: Any, name: str) -> Path:
    page.wait_for_timeout(800)  # let toasts finish sliding in
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def set_theme(page: Any, theme: str) -> None:
    """Switch to ``theme`` ("light" or "dark") and wait until the page shows it."""
    run_command(page, "apputils:change-theme", {"theme": THEMES[theme]})
    page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === light", arg=str(theme == "light").lower()
    )


def api_route(route: str) -> re.Pattern[str]:
    """A URL pattern for ``<base_url>/labadvisor/api/<route>``, whatever its query (the
    front end adds a cache-busting one). A pattern, not a Python function: Playwright
    matches it in the browser's driver, so requests do not wait for this thread."""
    return re.compile(rf"/labadvisor/api/{re.escape(route)}/?(\?.*)?$")


def fulfill_json(data: Any | Callable[[], Any], status: int = 200) -> Callable[[Any], None]:
    """A route handler answering ``data`` (or what ``data()`` returns at each request)."""

    def handle(route: Any) -> None:
        body = data() if callable(data) else data
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    return handle


def put_settings(lab: Lab, values: dict[str, Any]) -> None:
    """User settings of the labadvisor plugin, as the Settings Editor saves them."""
    request = urllib.request.Request(
        f"{lab.url}lab/api/settings/labadvisor:plugin",
        data=json.dumps({"raw": json.dumps(values)}).encode(),
        method="PUT",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204, response.status


HIDE_PAGE = """hidden => {
    Object.defineProperty(document, 'visibilityState', {
        configurable: true, get: () => (hidden ? 'hidden' : 'visible')
    });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def post(lab: Lab, route: str, body: dict[str, Any]) -> Any:
    return lab.rest("POST", f"labadvisor/api/{route}", body)


def open_palette(page: Any) -> Any:
    """The command palette's search box, opened as a person would."""
    from playwright.sync_api import expect

    page.locator("#jp-main-dock-panel").click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    expect(palette).to_be_focused()
    return palette


def open_notebook(page: Any, lab: Lab, path: str, cells: list[str] | None = None) -> str:
    """Write a notebook (code ``cells``) under the server's root, open it in Lab, wait for
    its kernel; the kernel's id."""
    if cells is not None:
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for source in cells
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (lab.root / path).write_text(json.dumps(notebook))
    run_command(page, "docmanager:open", {"path": path, "factory": "Notebook"})
    kernel: str = page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            for (let i = 0; i < 600; i++) {
                const widget = app.shell.currentWidget;
                const context = widget && widget.sessionContext;
                if (context && context.session && context.session.kernel) {
                    await context.ready;
                    return context.session.kernel.id;
                }
                await new Promise(resolve => setTimeout(resolve, 100));
            }
            throw new Error('no kernel after 60 s');
        }"""
    )
    return kernel


def run_all(page: Any, timeout_ms: int = 120_000) -> None:
    """Run every cell of the active notebook and wait until the kernel has stayed idle with
    no cell queued for 2 s; fails naming the first error, or the cell the run stopped at
    (a magic's UsageError stops it without an error output)."""
    run_command(page, "notebook:run-all-cells")
    page.wait_for_function(
        """() => {
            const widget = window.jupyterapp.shell.currentWidget;
            const cells = widget.content.widgets.filter(c => c.model.type === 'code');
            const running = cells.some(
                c => c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'));
            const busy = running || widget.sessionContext.session.kernel.status !== 'idle';
            const now = Date.now();
            if (busy || window.labadvisorIdleSince === undefined) {
                window.labadvisorIdleSince = busy ? undefined : now;
                return false;
            }
            return now - window.labadvisorIdleSince > 2000;
        }""",
        timeout=timeout_ms,
        polling=250,
    )
    page.evaluate("() => { window.labadvisorIdleSince = undefined; }")
    notebook = page.locator(".jp-NotebookPanel:visible")
    errors = notebook.locator(".jp-OutputArea-output[data-mime-type*='error']")
    if errors.count():
        pytest.fail(f"a cell failed:\n{errors.first.inner_text()}")
    stopped = page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter(c => c.model.type === 'code')
            .findIndex(c => c.model.executionCount === null)"""
    )
    if stopped >= 0:
        before = notebook.locator(".jp-CodeCell").nth(max(stopped - 1, 0)).inner_text()
        pytest.fail(f"Run All stopped before code cell {stopped}; the cell before:\n{before}")


def serious_accessibility_violations(page: Any, selector: str) -> list[str]:
    """axe-core's serious and critical violations inside ``selector``, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=selector, options={"resultTypes": ["violations"]})
    found: list[str] = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["html"][:160] for node in violation["nodes"]][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found
