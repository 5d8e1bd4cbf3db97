"""Real JupyterLab in Debian's headless Chromium: the status bar, the commands, the panel.

The Lab server (:mod:`browser_lab`) runs the installed extension, its Docker contexts
pointing at the two real test engines: ``desktop-linux`` (local) and ``docker-cloud``
(offload). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_lab import (
    HIDE_PAGE,
    Lab,
    free_port,
    lab_fixture,  # noqa: F401 (the lab fixture)
    open_page,
    open_palette,
    page_fixture,  # noqa: F401 (the page fixture)
    post,
    put_settings,
    require_browser,
    run_command,
    running_lab,
    screenshot,
)
from docker_engines import DockerEngines
from server_fixtures import LOCAL_CONTEXT

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab_without_switching(
    docker_engines: DockerEngines, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    """Lab whose operator turned context switching off."""
    require_browser()
    root = tmp_path_factory.mktemp("lab-no-switch")
    with running_lab(docker_engines, root, "--LabAdvisor.allow_context_switch=False") as running:
        yield running


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
        # the detection's sentence, not its status code, and what a click does
        expect(gpu).to_have_attribute("title", f"{report['message']}\nClick to open Lab Advisor")
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
    dead = f"tcp://127.0.0.1:{free_port()}"
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
    expect(gpu).to_have_attribute(
        "title", "NVIDIA L4: 21.5 GB free of 25.8 GB\nClick to open Lab Advisor"
    )


def test_panel_runtime_and_deployment_advice(page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    run_command(page, "labadvisor:open")
    panel = page.locator("#labadvisor-panel")
    expect(panel).to_be_visible()

    runtime = panel.locator("[data-form='runtime']")
    runtime.locator("input[name='model_size_gb']").fill("40")
    runtime.locator("select[name='workload']").select_option(label="Code Review")
    runtime.locator("select[name='gpu']").select_option(label="no local GPU")
    runtime.locator("button[type='submit']").click()
    expected = post(
        lab, "advise/runtime", {"model_size_gb": 40, "workload": "code-review", "gpu": None}
    )
    choice = runtime.locator(".jp-labadvisor-choice")
    expect(choice).to_have_text(expected["choice_label"])
    expect(choice).to_have_attribute("data-choice", expected["choice"])
    expect(runtime.locator(".jp-labadvisor-reasons li")).to_have_count(len(expected["reasons"]))

    deployment = panel.locator("[data-form='deployment']")
    deployment.locator("input[name='users']").fill("60")
    works = deployment.locator("[data-field='current_ok']")
    expect(works).to_be_hidden()  # "It works" means nothing while nothing runs
    deployment.locator("select[name='current']").select_option(label="Docker Compose")
    expect(works).to_be_visible()
    deployment.locator("select[name='kubernetes_experience']").select_option(label="no")
    triggers = deployment.locator("fieldset[name='migration_triggers']")
    triggers.get_by_label("Need for multiple nodes (Scaling needs)").check()
    deployment.locator("button[type='submit']").click()
    expected = post(
        lab,
        "advise/deployment",
        {
            "users": 60,
            "current": "docker-compose",
            "kubernetes_experience": False,
            "migration_triggers": ["multiple-nodes"],
        },
    )
    assert expected["inputs"]["migration_triggers"] == ["multiple-nodes"]
    choice = deployment.locator(".jp-labadvisor-choice")
    expect(choice).to_have_text(expected["choice_label"])
    expect(choice).to_have_attribute("data-choice", "k3s")
    warnings = deployment.locator(".jp-labadvisor-warning")
    expect(warnings).to_have_count(len(expected["warnings"]))
    # the plan, as the notebook panel shows it: the steps with the guide's durations
    plan = expected["migration"]
    migration = deployment.locator(".jp-labadvisor-plan", has_text="Migration")
    expect(migration.locator(".jp-labadvisor-plan-title")).to_have_text(
        f"Migration {plan['source']} → {plan['target']}"
    )
    steps = migration.locator("ol > li")
    expect(steps).to_have_count(len(plan["steps"]))
    first = plan["steps"][0]
    expect(steps.first).to_contain_text(f"{first['title']} ({first['duration']})")
    expect(deployment.locator(".jp-labadvisor-plan-title", has_text="Checklist")).to_be_visible()

    # bad input: the server's message, naming the valid values, shows in the panel. The
    # dropdowns offer only valid values, so the request is changed on its way out.
    def juggling(route: Any) -> None:
        body = json.loads(route.request.post_data)
        route.continue_(post_data=json.dumps({**body, "workload": "juggling"}))

    page.route("**/labadvisor/api/advise/runtime*", juggling)
    runtime.locator("button[type='submit']").click()
    expect(runtime.locator(".jp-labadvisor-error")).to_contain_text("valid workloads")
    page.unroute("**/labadvisor/api/advise/runtime*")
    screenshot(page, "labadvisor-panel.png")


@pytest.fixture
def fast_poll_without_gpu(lab: Lab) -> Iterator[None]:
    """User settings (as the Settings Editor saves them): poll every second, hide the GPU."""
    put_settings(lab, {"pollInterval": 1, "showGpu": False})
    yield
    put_settings(lab, {})


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


def test_switch_commands_hidden_when_the_operator_turned_switching_off(
    lab_without_switching: Lab,
) -> None:
    """c.LabAdvisor.allow_context_switch = False: the palette has no switch commands (the
    rest of Lab Advisor stays), and the server refuses a switch anyway."""
    from playwright.sync_api import expect

    lab = lab_without_switching
    assert lab.api("config") == {"allow_context_switch": False}
    with open_page(lab) as page:
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
