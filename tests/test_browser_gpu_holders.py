"""Which notebook holds the GPU (issue 14), in Debian's headless Chromium: the panel's
"GPU memory by notebook" section, its "open" and "shut down kernel" (with confirmation),
the GPU status-bar tooltip, and the poll that pauses while the page is hidden.

The notebook's kernel is real (started by Lab); the GPU process list it is named in is
the answer of ``GET gpu/processes`` for a machine with an NVIDIA L4 (this machine has no
GPU): the route's attribution itself is tested against a real server in the server tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_lab import (
    HIDE_PAGE,
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

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

GIB = 1024**3
PROCESSES_ROUTE = api_route("gpu/processes")


def holder(pid: int, holder: str, label: str, memory_gb: float, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pid": pid,
        "holder": holder,
        "label": label,
        "memory_used_gb": memory_gb,
        "sm_util": None,
        "kernel_id": None,
        "kernel_name": None,
        "notebook_path": None,
        "container_name": None,
        "user": None,
        "command": None,
        "verified": True,
        "note": None,
    }
    return {**base, **fields}


def processes_answer(kernel_id: str, path: str) -> dict[str, Any]:
    device = {
        "index": 0,
        "mig_index": None,
        "name": "NVIDIA L4",
        "memory_total": 24 * GIB,
        "memory_used": 20 * GIB,
        "memory_free": 4 * GIB,
    }
    return {
        "status": "ok",
        "read_at": "2026-11-26T18:00:00.000Z",
        "message": None,
        "devices": [
            {
                **device,
                "processes": [
                    holder(
                        4242,
                        "jupyter-kernel",
                        path,
                        12.0,
                        sm_util=55,
                        kernel_id=kernel_id,
                        kernel_name="python3",
                        notebook_path=path,
                        user="root",
                    ),
                    holder(5151, "container", "vllm-server", 6.5, container_name="vllm-server"),
                    holder(
                        77,
                        "not-visible",
                        "not visible from here",
                        1.2,
                        verified=False,
                        note="PID 77 does not exist in this PID namespace",
                    ),
                ],
            }
        ],
    }


@pytest.fixture
def fast_poll(lab: Lab) -> Iterator[None]:
    put_settings(lab, {"pollInterval": 1})
    yield
    put_settings(lab, {})


@pytest.fixture
def processes() -> dict[str, Any]:
    """What GET gpu/processes answers; the test fills it in."""
    return {"read_at": None, "message": None, "devices": []}


@pytest.fixture
def holders_page(lab: Lab, processes: dict[str, Any]) -> Iterator[Any]:
    """The Lab page, its GET gpu/processes answered with ``processes`` from the start
    (a server that has no such route is not asked again for minutes)."""

    def route(page: Any) -> None:
        page.route(PROCESSES_ROUTE, fulfill_json(lambda: processes))

    with open_page(lab, before_load=route) as opened:
        yield opened


def kernel_alive(lab: Lab, kernel_id: str) -> bool:
    return any(k["id"] == kernel_id for k in lab.rest("GET", "api/kernels"))


def test_gpu_memory_by_notebook(
    fast_poll: None, holders_page: Any, processes: dict[str, Any], lab: Lab
) -> None:
    from playwright.sync_api import expect

    page = holders_page
    path = "train.ipynb"
    kernel = open_notebook(page, lab, path, ["x = 1"])
    answer = processes_answer(kernel, path)
    processes.update(answer)
    device = dict(answer["devices"][0])
    del device["processes"]
    report = {"status": "ok", "message": None, "devices": [device]}
    page.route(api_route("gpu"), fulfill_json(report))
    run_command(page, "filebrowser:activate")

    # 1. the status bar's tooltip lists the top holders
    gpu = page.locator("#labadvisor-status .jp-labadvisor-status-gpu")
    expect(gpu).to_have_attribute(
        "title",
        "NVIDIA L4: 4.3 GB free of 25.8 GB\nHolding GPU memory:\n"
        f"  {path}: 12.0 GB\n  vllm-server: 6.5 GB\n  not visible from here: 1.2 GB\n"
        "Click to open Lab Advisor",
    )

    # 2. the panel lists one row per holder, largest first, with a bar
    run_command(page, "labadvisor:open")
    section = page.locator("#labadvisor-panel [data-section='holders']")
    rows = section.locator(".jp-labadvisor-holder")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".jp-labadvisor-holder-name")).to_have_text(path)
    expect(rows.nth(0).locator(".jp-labadvisor-holder-size")).to_have_text("12.0 GB · 55 %")
    expect(rows.nth(1).locator(".jp-labadvisor-holder-name")).to_have_text("vllm-server")
    expect(rows.nth(0).locator(".jp-labadvisor-holder-kind")).to_have_text(
        "Jupyter kernel · python3 · root · PID 4242"
    )
    expect(rows.nth(1).locator(".jp-labadvisor-holder-kind")).to_have_text("container · PID 5151")
    expect(rows.nth(2)).to_contain_text("not visible from here · PID 77")
    expect(rows.nth(2)).to_contain_text("does not exist in this PID namespace")
    fill = rows.nth(0).locator(".jp-labadvisor-bar-fill")
    share = 100 * 12.0 / (24 * GIB / 1e9)
    expect(fill).to_have_attribute("style", f"width: {share:.1f}%;")
    # only a notebook can be opened, only a kernel shut down
    expect(rows.nth(0).get_by_role("button", name=f"open {path}")).to_have_count(1)
    expect(rows.nth(1).locator("button")).to_have_count(0)
    expect(rows.nth(2).locator("button")).to_have_count(0)
    screenshot(page, "labadvisor-gpu-holders.png")

    # 3. "open" opens the notebook
    run_command(page, "launcher:create")
    rows.nth(0).get_by_role("button", name=f"open {path}").click()
    page.wait_for_function(
        "path => window.jupyterapp.shell.currentWidget.context?.path === path", arg=path
    )

    # 4. "shut down kernel" asks first; Cancel leaves the kernel running
    shut_down = rows.nth(0).get_by_role("button", name=f"shut down the kernel of {path}")
    shut_down.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Shut down the kernel of {path}?")
    expect(dialog).to_contain_text("12.0 GB")
    screenshot(page, "labadvisor-gpu-holders-confirm.png")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    page.wait_for_timeout(1000)
    assert kernel_alive(lab, kernel)

    # ... and "Shut Down" shuts it down through JupyterLab's sessions
    shut_down.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Shut Down").click()
    deadline = time.monotonic() + 60
    while kernel_alive(lab, kernel):
        assert time.monotonic() < deadline, "the kernel is still running"
        page.wait_for_timeout(300)
    expect(page.locator(".jp-Notification-Toast-success")).to_contain_text(
        f"Shut down the kernel of {path}"
    )


def test_holders_poll_pauses_while_hidden(fast_poll: None, holders_page: Any) -> None:
    page = holders_page
    calls: list[float] = []
    page.on(
        "request",
        lambda r: calls.append(time.monotonic()) if "/api/gpu/processes" in r.url else None,
    )
    page.wait_for_timeout(3500)
    assert len(calls) >= 2, f"{len(calls)} polls in 3.5 s with pollInterval 1 s"
    page.evaluate(HIDE_PAGE, True)
    page.wait_for_timeout(2500)
    paused_at = len(calls)
    page.wait_for_timeout(3500)
    assert len(calls) == paused_at, "GPU processes were polled while the page was hidden"
    page.evaluate(HIDE_PAGE, False)
    page.wait_for_timeout(3500)
    assert len(calls) >= paused_at + 2, "polling did not resume when shown"


def test_server_without_the_processes_route_says_so(page: Any) -> None:
    from playwright.sync_api import expect

    page.route(PROCESSES_ROUTE, fulfill_json({"message": "Not Found"}, 404))
    page.reload()
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
    run_command(page, "labadvisor:open")
    note = page.locator("#labadvisor-panel [data-section='holders'] .jp-labadvisor-note")
    expect(note).to_contain_text("does not list GPU processes")
