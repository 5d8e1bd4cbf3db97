"""The Offload meter (issue 15), in Debian's headless Chromium: elapsed time and cost in
the status bar while an Offload context is in force (the server's, after a real switch to
the ``docker-cloud`` test engine, or the active notebook's kernel's own), the monthly
budget notifications, and the idle reminder with its actions.

The ledger's figures (``GET usage``) are given by the test, so the time, the cost and the
idle stretch are known; the context switches are real, and so is "Stop Offload"
(``POST offload/stop``, with and without a stand-in ``docker offload`` plugin).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_lab import (
    MATH_NODES,
    Lab,
    api_route,
    fulfill_json,
    lab_fixture,  # noqa: F401 (the lab fixture)
    open_notebook,
    open_page,
    page_fixture,  # noqa: F401 (the page fixture)
    put_settings,
    run_command,
    screenshot,
)
from offload_plugin import install_offload_plugin, plugin_calls, remove_offload_plugin

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

RATE = 0.5  # dollars per hour


def usage_answer(active: bool, since_minutes: float, cost_month: float) -> dict[str, Any]:
    now = time.time()
    return {
        "offload": {
            "active": active,
            "context": "docker-cloud" if active else None,
            # a few seconds more, so that the minute shown is not about to change
            "since": now - since_minutes * 60 - 5 if active else None,
            "seconds_month": 3600 * cost_month / RATE,
            "cost_month": cost_month,
            "rate": RATE,
            "upper_bound": False,
            "idle_since": None,
        },
        "gpu": {"busy_hours_per_day": 0.0, "peak_memory_gb_by_notebook": {}},
        "period": {"days": 30},
        "recording_since": "2026-11-01T00:00:00Z",
    }


@pytest.fixture
def meter_settings(lab: Lab) -> Iterator[None]:
    put_settings(lab, {"pollInterval": 1, "monthlyBudget": 10, "idleReminderMinutes": 15})
    yield
    put_settings(lab, {})
    lab.store.docker("context", "use", "default")


def test_offload_meter_budget_and_idle_reminder(meter_settings: None, page: Any, lab: Lab) -> None:
    from playwright.sync_api import expect

    usage = usage_answer(active=True, since_minutes=42, cost_month=8.5)
    page.route(api_route("usage"), fulfill_json(lambda: usage))
    meter = page.locator("#labadvisor-status .jp-labadvisor-status-meter")
    context = page.locator("#labadvisor-status .jp-labadvisor-status-context")
    expect(meter).to_be_hidden()

    # 1. a global switch to Offload (the docker-cloud test engine): the meter runs, and
    # its dollar sign is never typeset
    run_command(page, "labadvisor:use-offload")
    expect(context).to_have_text("Docker: docker-cloud (offload)")
    expect(meter).to_have_text("Offload 0:42 · $0.35")
    expect(meter.locator(".jp-labadvisor-dollar")).to_have_text("$")
    expect(page.locator("#labadvisor-status.tex2jax_ignore.mathjax_ignore")).to_have_count(1)
    assert page.locator(f"#labadvisor-status {MATH_NODES}").count() == 0

    # 2. the budget: 8.50 of 10 dollars is past 80 %, noted once
    budget = page.locator(".jp-Notification-Toast-warning", has_text="Offload budget")
    expect(budget).to_have_count(1)
    expect(budget).to_contain_text(
        "Offload budget: $8.50 spent this month, 85 % of your $10.00 budget."
    )
    screenshot(page, "labadvisor-offload-meter-budget-80.png")
    usage["offload"]["cost_month"] = 10.5
    over = page.locator(".jp-Notification-Toast-error", has_text="Offload budget")
    expect(over).to_have_count(1)
    expect(over).to_contain_text(
        "Offload budget: $10.50 spent this month, over your $10.00 budget. "
        "Use the local engine, or run `docker offload stop`."
    )
    page.wait_for_timeout(3000)  # more polls: no second notice of either
    expect(budget).to_have_count(1)
    expect(over).to_have_count(1)
    # once per month: not again after a reload
    page.reload()
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
    expect(meter).to_have_text("Offload 0:42 · $0.35")
    page.wait_for_timeout(2500)
    expect(
        page.locator(".jp-Notification-Toast-warning, .jp-Notification-Toast-error")
    ).to_have_count(0)

    # 3. idle for 20 minutes: a reminder, whose "Use local Docker engine" switches
    usage["offload"]["idle_since"] = time.time() - 20 * 60
    idle = page.locator(".jp-Notification-Toast-warning", has_text="Docker Offload is idle")
    expect(idle).to_contain_text("no container for 20 minutes")
    screenshot(page, "labadvisor-offload-idle.png")
    idle.get_by_role("button", name="Use local Docker engine").click()
    expect(context).to_have_text("Docker: desktop-linux (local)")
    expect(meter).to_be_hidden()
    assert lab.store.current_in_config() == "desktop-linux"

    # 4. ... and "Stop Offload" on a server without the `docker offload` plugin (a real 409):
    # it switches to the local engine and says how to stop the session
    run_command(page, "labadvisor:use-offload")
    expect(meter).to_be_visible()
    usage["offload"]["idle_since"] = time.time() - 16 * 60
    idle = page.locator(".jp-Notification-Toast-warning", has_text="Docker Offload is idle")
    idle.get_by_role("button", name="Stop Offload").click()
    expect(context).to_have_text("Docker: desktop-linux (local)")
    fallback = page.locator(".jp-Notification-Toast-info")
    expect(fallback).to_have_text(
        "Now on the local engine. The server has no docker offload plugin: run "
        "`docker offload stop` where Docker Desktop runs (billed until then)."
    )
    screenshot(page, "labadvisor-offload-stop.png")

    # 5. with the plugin on the server, "Stop Offload" stops the session for real
    # (POST offload/stop runs `docker offload stop`) and leaves the server local
    calls = install_offload_plugin(lab.store.config_dir)
    try:
        run_command(page, "labadvisor:use-offload")
        expect(context).to_have_text("Docker: docker-cloud (offload)")
        usage["offload"]["idle_since"] = time.time() - 17 * 60
        idle = page.locator(".jp-Notification-Toast-warning", has_text="Docker Offload is idle")
        idle.get_by_role("button", name="Stop Offload").click()
        done = page.locator(".jp-Notification-Toast-success", has_text="Docker Offload is")
        expect(done).to_contain_text("Docker Offload is stopped; Docker context: desktop-linux")
        expect(context).to_have_text("Docker: desktop-linux (local)")
        assert "stop" in plugin_calls(calls)
        assert lab.store.current_in_config() == "desktop-linux"
        screenshot(page, "labadvisor-offload-stopped.png")
    finally:
        remove_offload_plugin(lab.store.config_dir)


def test_offload_meter_for_a_kernel_that_switched_on_its_own(
    meter_settings: None, page: Any, lab: Lab
) -> None:
    from playwright.sync_api import expect

    page.route(
        api_route("usage"),
        fulfill_json(usage_answer(active=False, since_minutes=0, cost_month=1.0)),
    )
    meter = page.locator("#labadvisor-status .jp-labadvisor-status-meter")
    kernel = open_notebook(page, lab, "offload-kernel.ipynb", ["1 + 1"])
    own = {
        "context": "docker-cloud",
        "role": "offload",
        "host": lab.store.engines.offload_host,
        "switched_at": time.time() - 5 * 60 - 5,
        "notebook_path": "offload-kernel.ipynb",
    }

    def with_kernel(route: Any) -> None:
        answer = route.fetch()
        state = answer.json()
        state.setdefault("kernels", {})[kernel] = own
        route.fulfill(response=answer, body=json.dumps(state))

    page.route(api_route("contexts"), with_kernel)
    expect(meter).to_have_text("Offload 0:05 · $0.04")
    screenshot(page, "labadvisor-offload-meter-kernel.png")
    run_command(page, "launcher:create")  # another tab: the server's local context
    expect(meter).to_be_hidden()


@pytest.fixture
def short_idle_reminder(lab: Lab) -> Iterator[None]:
    put_settings(lab, {"pollInterval": 1, "idleReminderMinutes": 0.05})  # 3 s
    yield
    put_settings(lab, {})
    lab.store.docker("context", "use", "default")


def test_idle_reminder_dated_by_the_offload_session_state(
    short_idle_reminder: None, lab: Lab
) -> None:
    """This server's ``GET usage`` gives the session state, not when it went idle: the
    reminder comes the set time after the meter first finds the session "idle"."""
    from playwright.sync_api import expect

    usage = usage_answer(active=True, since_minutes=10, cost_month=1.0)
    del usage["offload"]["idle_since"]
    usage["offload"]["state"] = "started"

    def route(page: Any) -> None:
        page.route(api_route("usage"), fulfill_json(lambda: usage))

    with open_page(lab, before_load=route) as page:
        run_command(page, "labadvisor:use-offload")
        meter = page.locator("#labadvisor-status .jp-labadvisor-status-meter")
        expect(meter).to_have_text("Offload 0:10 · $0.08")
        idle = page.locator(".jp-Notification-Toast-warning", has_text="Docker Offload is idle")
        page.wait_for_timeout(5000)  # running containers: no reminder
        expect(idle).to_have_count(0)
        usage["offload"]["state"] = "idle"
        page.wait_for_timeout(1500)  # found idle, but not yet for 3 s
        expect(idle).to_have_count(0)
        expect(idle).to_have_count(1, timeout=10_000)
        expect(idle.get_by_role("button", name="Stop Offload")).to_have_count(1)
