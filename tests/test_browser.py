"""Real JupyterLab in Debian's headless Chromium: the status bar, the commands, the panel.

The Lab server is started by the test with the installed extension (as `make lab` would run
it), its Docker contexts pointing at the two real test engines: ``desktop-linux`` (local)
and ``docker-cloud`` (offload). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docker_engines import DockerEngines
from server_fixtures import LOCAL_CONTEXT, DockerStore, make_store

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

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


@dataclass(frozen=True)
class Lab:
    url: str  # ends with "/"
    token: str
    store: DockerStore
    log: Path

    def api(self, route: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}labadvisor/api/{route}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _require_browser() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} missing (Debian package chromium; `make test` installs it)"
        if os.environ.get("LABADVISOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LABADVISOR_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


@contextlib.contextmanager
def _running_lab(engines: DockerEngines, root: Path, *options: str) -> Iterator[Lab]:
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
    port, token = _free_port(), os.urandom(12).hex()
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
    lab = Lab(f"http://127.0.0.1:{port}/", token, store, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited with {server.returncode}:\n{log.read_text()}")
            try:
                lab.api("advise/options")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in 90 s:\n{log.read_text()}")
                time.sleep(0.3)
        yield lab
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(docker_engines: DockerEngines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require_browser()
    with _running_lab(docker_engines, tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="module")
def lab_without_switching(
    docker_engines: DockerEngines, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """Lab whose operator turned context switching off."""
    _require_browser()
    root = tmp_path_factory.mktemp("lab-no-switch")
    with _running_lab(docker_engines, root, "--LabAdvisor.allow_context_switch=False") as running:
        yield running


@pytest.fixture
def page(lab: Lab) -> Iterator[Any]:
    """A fresh browser on the Lab page. Function-scoped on purpose: Playwright's sync API
    keeps its own event loop marked as running, which must not outlive the test's loop
    fixture from pytest-jupyter."""
    with _open_page(lab) as opened:
        yield opened


@contextlib.contextmanager
def _open_page(lab: Lab) -> Iterator[Any]:
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


def run_command(page: Any, command: str) -> None:
    page.evaluate("id => window.jupyterapp.commands.execute(id)", command)


def screenshot(page: Any, name: str) -> None:
    page.wait_for_timeout(800)  # let toasts finish sliding in
    page.screenshot(path=str(ARTIFACTS / name))


def expected_gpu_text(report: dict[str, Any]) -> str:
    if report["status"] != "ok" or not report["devices"]:
        return "GPU: no GPU"
    return f"GPU: {report['devices'][0]['name']}"


def test_status_bar_and_context_commands(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    gpu = page.locator("#labadvisor-status .jp-labadvisor-status-gpu")
    context = page.locator("#labadvisor-status .jp-labadvisor-status-context")

    # 1. the status bar shows the GPU state and the current context
    report = lab.api("gpu")
    expect(gpu).to_contain_text(expected_gpu_text(report))
    expect(gpu).to_have_attribute("data-status", report["status"])
    if report["status"] != "ok":
        expect(gpu).to_have_text("GPU: no GPU")
        expect(gpu).to_have_attribute(
            "title", f"GPU status: {report['status']} ({report['message']})"
        )
    expect(context).to_have_text("Docker: default (local)")
    assert page.get_by_text("Jupyter news").count() == 0, "the news pop-up is showing"

    # 2. "Use Docker Offload" switches it, for the docker CLI too
    run_command(page, "labadvisor:use-offload")
    expect(context).to_have_text("Docker: docker-cloud (offload)")
    expect(context).to_have_attribute("data-role", "offload")
    expect(page.locator(".jp-Notification-Toast-success")).to_contain_text("docker-cloud")
    assert lab.store.current_in_config() == "docker-cloud"
    assert lab.api("contexts")["current"]["name"] == "docker-cloud"
    screenshot(page, "labadvisor-offload.png")

    # 3. the palette has the commands; "Use local Docker engine" switches back
    page.locator("#jp-main-dock-panel").click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    expect(palette).to_be_focused()
    palette.fill("Lab Advisor")
    items = page.locator(".lm-CommandPalette-item")
    expect(items.filter(has_text="Use Docker Offload")).to_have_count(1)
    palette.fill("Use local Docker engine")
    item = page.locator(".lm-CommandPalette-item", has_text="Use local Docker engine")
    expect(item).to_have_count(1)
    palette.press("Enter")
    expect(context).to_have_text(f"Docker: {LOCAL_CONTEXT} (local)")
    assert lab.store.current_in_config() == LOCAL_CONTEXT

    # 4. an offload engine that does not answer: an error notification, nothing changes
    dead = f"tcp://127.0.0.1:{_free_port()}"
    lab.store.docker("context", "update", "docker-cloud", "--docker", f"host={dead}")
    try:
        run_command(page, "labadvisor:use-offload")
        toast = page.locator(".jp-Notification-Toast-error")
        expect(toast).to_contain_text("Could not switch to Docker Offload")
        expect(toast).to_contain_text(dead.removeprefix("tcp://"))
        expect(context).to_have_text(f"Docker: {LOCAL_CONTEXT} (local)")
        assert lab.store.current_in_config() == LOCAL_CONTEXT
        screenshot(page, "labadvisor-offload-error.png")
    finally:
        offload = lab.store.engines.offload_host
        lab.store.docker("context", "update", "docker-cloud", "--docker", f"host={offload}")


def test_status_bar_gpu_memory_is_in_gb(page: Any) -> None:
    """Sizes a person reads are GB (10**9 bytes), as in the guides and the Python views.
    The server's GPU answer is replaced by one with a known device: 20 of 24 GiB free,
    which reads 21.5/25.8 GB (GiB would read 20.0/24.0)."""
    from playwright.sync_api import expect

    gib = 1024**3
    device = {"index": 0, "name": "NVIDIA L4", "memory_total": 24 * gib}
    device.update(memory_used=4 * gib, memory_free=20 * gib)
    report = {"status": "ok", "message": None, "devices": [device]}
    page.route(
        "**/labadvisor/api/gpu*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(report)
        ),
    )
    page.reload()
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
    gpu = page.locator("#labadvisor-status .jp-labadvisor-status-gpu")
    expect(gpu).to_have_text("GPU: NVIDIA L4 · 21.5/25.8 GB free")
    expect(gpu).to_have_attribute("title", "NVIDIA L4: 21.5 GB free of 25.8 GB")


def test_panel_runtime_and_deployment_advice(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    run_command(page, "labadvisor:open")
    panel = page.locator("#labadvisor-panel")
    expect(panel).to_be_visible()

    runtime = panel.locator("[data-form='runtime']")
    runtime.locator("input[name='model_size_gb']").fill("40")
    runtime.locator("input[name='workload']").fill("code-review")
    runtime.locator("input[name='gpu']").fill("none")
    runtime.locator("button[type='submit']").click()
    expected = _post(
        lab, "advise/runtime", {"model_size_gb": 40, "workload": "code-review", "gpu": None}
    )
    choice = runtime.locator(".jp-labadvisor-choice")
    expect(choice).to_have_text(expected["choice_label"])
    expect(choice).to_have_attribute("data-choice", expected["choice"])
    expect(runtime.locator(".jp-labadvisor-reasons li")).to_have_count(len(expected["reasons"]))

    deployment = panel.locator("[data-form='deployment']")
    deployment.locator("input[name='users']").fill("60")
    deployment.locator("input[name='current']").fill("docker-compose")
    deployment.locator("select[name='kubernetes_experience']").select_option("false")
    deployment.locator("button[type='submit']").click()
    expected = _post(
        lab,
        "advise/deployment",
        {"users": 60, "current": "docker-compose", "kubernetes_experience": False},
    )
    choice = deployment.locator(".jp-labadvisor-choice")
    expect(choice).to_have_text(expected["choice_label"])
    expect(choice).to_have_attribute("data-choice", "k3s")
    warnings = deployment.locator(".jp-labadvisor-warning")
    expect(warnings).to_have_count(len(expected["warnings"]))

    # bad input: the server's message, naming the valid values, shows in the panel
    runtime.locator("input[name='workload']").fill("juggling")
    runtime.locator("button[type='submit']").click()
    expect(runtime.locator(".jp-labadvisor-error")).to_contain_text("valid workloads")
    screenshot(page, "labadvisor-panel.png")


@pytest.fixture
def fast_poll_without_gpu(lab: Lab) -> Iterator[None]:
    """User settings (as the Settings Editor saves them): poll every second, hide the GPU."""
    _put_settings(lab, {"pollInterval": 1, "showGpu": False})
    yield
    _put_settings(lab, {})


def _put_settings(lab: Lab, values: dict[str, Any]) -> None:
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


def test_settings_and_polling_that_pauses_while_hidden(
    fast_poll_without_gpu: None, page: Any
) -> None:
    from playwright.sync_api import expect

    gpu = page.locator("#labadvisor-status .jp-labadvisor-status-gpu")
    context = page.locator("#labadvisor-status .jp-labadvisor-status-context")
    expect(context).to_contain_text("Docker: ")
    expect(gpu).to_be_hidden()

    requests: dict[str, list[float]] = {"gpu": [], "contexts": []}

    def record(request: Any) -> None:
        for route, times in requests.items():
            if request.url.split("?")[0].endswith(f"/labadvisor/api/{route}"):
                times.append(time.monotonic())

    page.on("request", record)
    page.wait_for_timeout(3500)
    visible = len(requests["contexts"])
    assert visible >= 2, f"{visible} polls in 3.5 s with pollInterval 1 s"
    assert requests["gpu"] == [], "showGpu is false but the GPU is still polled"

    page.evaluate(HIDE_PAGE, True)
    page.wait_for_timeout(2500)  # the poll lingers one tick, then stands by
    paused_at = len(requests["contexts"])
    page.wait_for_timeout(3500)
    assert len(requests["contexts"]) == paused_at, "polling went on while the page was hidden"

    page.evaluate(HIDE_PAGE, False)
    page.wait_for_timeout(3500)
    assert len(requests["contexts"]) >= paused_at + 2, "polling did not resume when shown"


def _post(lab: Lab, route: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{lab.url}labadvisor/api/{route}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def open_palette(page: Any) -> Any:
    """The command palette's search box, opened as a person would."""
    from playwright.sync_api import expect

    page.locator("#jp-main-dock-panel").click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    expect(palette).to_be_focused()
    return palette


def test_switch_commands_hidden_when_the_operator_turned_switching_off(
    lab_without_switching: Lab,
) -> None:
    """c.LabAdvisor.allow_context_switch = False: the palette has no switch commands (the
    rest of Lab Advisor stays), and the server refuses a switch anyway."""
    from playwright.sync_api import expect

    lab = lab_without_switching
    assert lab.api("config") == {"allow_context_switch": False}
    with _open_page(lab) as page:
        page.wait_for_timeout(500)  # the answer to GET config has been acted on
        palette = open_palette(page)
        items = page.locator(".lm-CommandPalette-item")
        palette.fill("Lab Advisor")
        expect(items.filter(has_text="Open Lab Advisor")).to_have_count(1)
        expect(items.filter(has_text="Use Docker Offload")).to_have_count(0)
        expect(items.filter(has_text="Use local Docker engine")).to_have_count(0)
        palette.fill("Docker")
        expect(items.filter(has_text="Use Docker Offload")).to_have_count(0)
        expect(items.filter(has_text="Use local Docker engine")).to_have_count(0)
        visible = page.evaluate(
            "ids => ids.map(id => window.jupyterapp.commands.isVisible(id))",
            ["labadvisor:use-offload", "labadvisor:use-local"],
        )
        assert visible == [False, False]
        context = page.locator("#labadvisor-status .jp-labadvisor-status-context")
        expect(context).to_have_text("Docker: default (local)")  # still shown, read-only
        screenshot(page, "labadvisor-switching-off.png")
    assert lab.store.current_in_config() is None
