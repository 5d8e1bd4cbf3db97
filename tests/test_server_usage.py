"""The usage sampler in the server extension, GET usage (the Offload meter and the ledger)
and the kernels' own contexts in GET contexts: a real in-process Jupyter server sampling
every 0.2 s into a SQLite ledger under a temporary XDG_DATA_HOME, the fake NVML, real
kernels for notebook sessions and, for the Offload meter, the real test engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_engines import isolate_docker_env
from fake_nvml import FakeProcess, GiB, l4
from gpu_fixtures import InstallFake
from server_client import NotebookKernel, fetch_json, put_name, server_config
from server_fixtures import DockerStore

from labadvisor.usage import SqliteLedger

INTERVAL_S = 0.2
NOTEBOOK = "train.ipynb"


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the default ledger goes: a temporary XDG_DATA_HOME (set before the server)."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("LABADVISOR_USAGE_URL", raising=False)
    return home


@pytest.fixture
def jp_server_config(data_home: Path) -> dict[str, Any]:
    return server_config(LabAdvisor={"usage_interval_s": INTERVAL_S})


@pytest.fixture
def opened() -> Iterator[list[NotebookKernel]]:
    kernels: list[NotebookKernel] = []
    yield kernels
    for kernel in kernels:
        kernel.close()


def extension(serverapp: Any) -> Any:
    (app,) = serverapp.extension_manager.extension_apps["labadvisor"]
    return app


def sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "labadvisor-usage" and t.is_alive()]


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """``check()``'s first truthy answer, asked every 0.1 s for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await check()
        if answer or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def open_notebook(
    jp_fetch: Any, serverapp: Any, root: Path, opened: list[NotebookKernel]
) -> NotebookKernel:
    (root / NOTEBOOK).write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    kernel = await NotebookKernel.open(jp_fetch, serverapp, NOTEBOOK)
    opened.append(kernel)
    return kernel


def iso_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- the sampler -----------------------------------------------------------------------


async def test_the_sampler_records_gpus_and_notebooks_and_usage_reports_them(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_root_dir: Path,
    data_home: Path,
    fake_nvml: InstallFake,
    gpu_device_file: Path,
    opened: list[NotebookKernel],
) -> None:
    kernel = await open_notebook(jp_fetch, jp_serverapp, jp_root_dir, opened)
    await kernel.run(f"gpu = open({str(gpu_device_file)!r}, 'rb')")
    fake_nvml([l4(0, utilization=(64, 20), processes=[FakeProcess(kernel.pid, 6 * GiB)])])

    async def notebook_recorded() -> dict[str, Any] | None:
        status, data = await fetch_json(jp_fetch, "usage", params={"days": 7})
        assert status == 200, data
        peaks = data["gpu"]["peak_memory_gb_by_notebook"]
        return data if NOTEBOOK in peaks and data["gpu"]["busy_hours_per_day"] else None

    data = await eventually(notebook_recorded)
    assert data, "the sampler recorded no sample with the notebook's GPU memory"
    assert data["gpu"]["peak_memory_gb_by_notebook"][NOTEBOOK] == pytest.approx(6 * GiB / 1e9)
    assert data["gpu"]["busy_hours_per_day"] > 0
    assert data["recording_since"] is not None
    assert data["period"]["days"] == 7 and data["period"]["days_recorded"] == 1
    assert data["sampling"] is True and data["message"] is None
    ledger_file = data_home / "labadvisor" / "usage.sqlite3"
    assert data["ledger"] == str(ledger_file)
    assert data["offload"]["active"] is False and data["offload"]["since"] is None
    assert data["offload"]["seconds_month"] == 0.0 and data["offload"]["cost_month"] == 0.0
    assert data["offload"]["rate"] > 0
    # the rows are in the file: the notebook by its path and kernel id
    with SqliteLedger(ledger_file) as ledger:
        rows = ledger._read("SELECT holder, kernel_id, memory_used FROM holder_samples")
        ticks = ledger._read("SELECT count(*) FROM ticks")
    assert set(rows) == {(NOTEBOOK, kernel.kernel_id, 6 * GiB)}
    assert isinstance(ticks[0][0], int) and ticks[0][0] >= 1


async def test_server_stop_leaves_no_sampler_thread(jp_serverapp: Any) -> None:
    app = extension(jp_serverapp)
    assert app.sampler is not None and app.sampler.running
    assert len(sampler_threads()) == 1
    await jp_serverapp.cleanup_extensions()
    assert sampler_threads() == []
    assert app.sampler is None
    await jp_serverapp.cleanup_extensions()  # a second stop is harmless


class TestSamplingOff:
    @pytest.fixture
    def jp_server_config(self, data_home: Path) -> dict[str, Any]:
        return server_config(LabAdvisor={"usage_interval_s": 0})

    async def test_no_thread_and_usage_says_sampling_is_off(
        self, jp_fetch: Any, jp_serverapp: Any, data_home: Path
    ) -> None:
        assert extension(jp_serverapp).sampler is None
        assert sampler_threads() == []
        status, data = await fetch_json(jp_fetch, "usage")
        assert status == 200, data
        assert data["sampling"] is False
        assert "usage_interval_s = 0" in data["message"]
        assert data["recording_since"] is None and data["period"]["days"] == 30
        assert not (data_home / "labadvisor" / "usage.sqlite3").exists()  # reading creates none


@pytest.mark.parametrize("days", ["0", "-1", "x", "1.5", "3661", "99999999999"])
async def test_bad_days_are_a_400_naming_the_range(jp_fetch: Any, days: str) -> None:
    status, data = await fetch_json(jp_fetch, "usage", params={"days": days})
    assert status == 400, data
    assert "from 1 to 3660" in data["message"] and repr(days) in data["message"]


class TestConfiguredLedger:
    @pytest.fixture
    def ledger_file(self, tmp_path: Path) -> Path:
        return tmp_path / "configured" / "lab.sqlite3"

    @pytest.fixture
    def jp_server_config(self, data_home: Path, ledger_file: Path) -> dict[str, Any]:
        return server_config(
            LabAdvisor={"usage_interval_s": INTERVAL_S, "usage_url": f"sqlite://{ledger_file}"}
        )

    async def test_usage_url_names_the_ledger(
        self, jp_fetch: Any, ledger_file: Path, data_home: Path
    ) -> None:
        async def recorded() -> Any:
            _, data = await fetch_json(jp_fetch, "usage")
            return data if data["recording_since"] else None

        data = await eventually(recorded)
        assert data and data["ledger"] == str(ledger_file)
        assert ledger_file.exists()
        assert not (data_home / "labadvisor" / "usage.sqlite3").exists()


def test_bad_interval_is_refused_naming_the_value() -> None:
    from traitlets import TraitError

    from labadvisor.server.app import LabAdvisor

    with pytest.raises(TraitError, match=r"usage_interval_s must be 0 \(off\) or more.*-1"):
        LabAdvisor(usage_interval_s=-1)
    with pytest.raises(TraitError, match="usage_retention_days must be a number of days"):
        LabAdvisor(usage_retention_days=0)


# --- the Offload meter -------------------------------------------------------------------


async def test_an_unreadable_context_store_is_a_message_not_an_error(
    jp_fetch: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = isolate_docker_env(monkeypatch, tmp_path / "home")
    (config_dir / "config.json").write_text("{not json")
    status, data = await fetch_json(jp_fetch, "usage")
    assert status == 200, data
    assert data["offload"]["active"] is False
    assert "server's Docker context could not be read" in data["message"]
    assert "config.json" in data["message"]


@pytest.mark.docker
async def test_a_global_switch_to_offload_runs_the_meter(
    jp_fetch: Any, docker_store: DockerStore
) -> None:
    before = time.time()
    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("docker-cloud"))
    assert status == 200, data
    status, data = await fetch_json(jp_fetch, "usage")
    assert status == 200, data
    offload = data["offload"]
    assert offload["active"] is True and offload["server"] is True
    assert offload["context"] == "docker-cloud" and offload["kernels"] == {}
    # since: when config.json was written by the switch
    assert before - 1 <= iso_time(offload["since"]) <= time.time()

    async def counted() -> Any:
        _, data = await fetch_json(jp_fetch, "usage")
        return data if data["offload"]["seconds_month"] > 0 else None

    data = await eventually(counted)
    assert data, "the sampler counted no Offload time while the context pointed at it"
    # no `docker offload` plugin to ask here: the context's time is an upper bound
    assert data["offload"]["upper_bound"] is True
    assert data["offload"]["cost_month"] == pytest.approx(
        data["offload"]["seconds_month"] / 3600 * data["offload"]["rate"]
    )
    since = data["offload"]["since"]
    _, again = await fetch_json(jp_fetch, "usage")
    assert again["offload"]["since"] == since  # the meter keeps its start

    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("local"))
    assert status == 200, data
    _, data = await fetch_json(jp_fetch, "usage")
    assert data["offload"]["active"] is False and data["offload"]["since"] is None
    assert data["offload"]["seconds_month"] > 0  # what was used stays counted


@pytest.mark.docker
async def test_idle_since_follows_the_containers_the_offload_engine_runs(
    jp_fetch: Any, docker_store: DockerStore
) -> None:
    """The idle reminder's clock: set while the Offload engine (the real test engine behind
    docker-cloud) runs no container, cleared while one runs, restarted when it ends."""
    import docker

    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("docker-cloud"))
    assert status == 200, data

    async def idle_since() -> Any:
        _, data = await fetch_json(jp_fetch, "usage")
        return data["offload"]["idle_since"]

    async def busy() -> bool:
        _, data = await fetch_json(jp_fetch, "usage")
        return data["offload"]["active"] and data["offload"]["idle_since"] is None

    first = await eventually(idle_since)
    assert first, "the sampler never dated the idleness of an engine that runs nothing"
    engine = docker.DockerClient(base_url=docker_store.engines.offload_host, timeout=60)
    container = engine.containers.run(
        docker_store.engines.image, ["sleep", "120"], detach=True, network_mode="none"
    )
    try:
        assert await eventually(busy), "idle_since stayed set while a container ran"
    finally:
        container.remove(force=True)
        engine.close()
    again = await eventually(idle_since)
    assert again and iso_time(again) > iso_time(first), (first, again)

    status, data = await fetch_json(jp_fetch, "contexts", "current", **put_name("local"))
    assert status == 200, data
    _, data = await fetch_json(jp_fetch, "usage")
    assert data["offload"]["active"] is False and data["offload"]["idle_since"] is None


@pytest.mark.docker
async def test_a_kernel_scope_switch_shows_in_contexts_and_runs_the_meter(
    jp_fetch: Any,
    jp_serverapp: Any,
    jp_root_dir: Path,
    docker_store: DockerStore,
    opened: list[NotebookKernel],
) -> None:
    kernel = await open_notebook(jp_fetch, jp_serverapp, jp_root_dir, opened)
    _, data = await fetch_json(jp_fetch, "contexts")
    assert data["kernels"] == {}
    before = time.time()
    switched = await kernel.run(
        "from labadvisor import contexts\nprint(contexts.use('offload').context)"
    )
    assert switched == "docker-cloud\n"

    status, data = await fetch_json(jp_fetch, "contexts")
    assert status == 200, data
    assert data["current"]["name"] == "default"  # the server's own context is unchanged
    own = data["kernels"][kernel.kernel_id]
    assert (own["context"], own["role"], own["notebook_path"]) == (
        "docker-cloud",
        "offload",
        NOTEBOOK,
    )
    assert own["host"] == docker_store.engines.offload_host
    assert before - 1 <= iso_time(own["switched_at"]) <= time.time()

    _, usage = await fetch_json(jp_fetch, "usage")
    offload = usage["offload"]
    assert offload["active"] is True and offload["server"] is False
    assert offload["kernels"] == {kernel.kernel_id: "docker-cloud"}
    assert offload["context"] == "docker-cloud"
    assert offload["since"] == own["switched_at"]

    async def counted() -> Any:
        _, data = await fetch_json(jp_fetch, "usage")
        return data if data["offload"]["seconds_month"] > 0 else None

    assert await eventually(counted), "the sampler did not count the kernel's Offload time"

    await kernel.run("contexts.follow_global()")
    _, data = await fetch_json(jp_fetch, "contexts")
    assert data["kernels"] == {}
    _, usage = await fetch_json(jp_fetch, "usage")
    assert usage["offload"]["active"] is False
