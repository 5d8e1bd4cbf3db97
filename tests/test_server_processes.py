"""GET gpu/processes: who holds GPU memory, against a real in-process Jupyter server, a real
kernel started for a notebook session, and the fake NVML (which reports real pids)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_nvml import FakeProcess, GiB, l4
from gpu_fixtures import GpuContainer, InstallFake
from server_client import NotebookKernel, fetch_json, post, server_config

from labadvisor import gpu

NOTEBOOK = "work/train.ipynb"


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return server_config(LabAdvisor={"usage_interval_s": 0})


@pytest.fixture
def notebook_file(jp_root_dir: Path) -> str:
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / NOTEBOOK).write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return NOTEBOOK


@pytest.fixture
def opened() -> Iterator[list[NotebookKernel]]:
    """Kernels a test opened; their clients are closed afterwards (the server's cleanup
    shuts the kernels down)."""
    kernels: list[NotebookKernel] = []
    yield kernels
    for kernel in kernels:
        kernel.close()


def absent_pid() -> int:
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 17
    assert not Path(f"/proc/{pid}").exists()
    return pid


async def test_a_kernel_and_its_child_are_its_notebook(
    jp_fetch: Any,
    fake_nvml: InstallFake,
    gpu_device_file: Path,
    jp_serverapp: Any,
    notebook_file: str,
    opened: list[NotebookKernel],
) -> None:
    notebook_kernel = await NotebookKernel.open(jp_fetch, jp_serverapp, notebook_file)
    opened.append(notebook_kernel)
    # The kernel holds the "GPU" open as CUDA would, and starts a worker that holds it too.
    worker = int(
        await notebook_kernel.run(
            f"import subprocess\ngpu = open({str(gpu_device_file)!r}, 'rb')\n"
            "worker = subprocess.Popen(['sleep', '120'], stdin=gpu)\nprint(worker.pid)"
        )
    )
    try:
        missing = absent_pid()
        fake_nvml(
            [
                l4(
                    0,
                    processes=[
                        FakeProcess(notebook_kernel.pid, 8 * GiB, utilization=(71, 12)),
                        FakeProcess(worker, 1 * GiB),
                        FakeProcess(missing, 2 * GiB),
                    ],
                )
            ]
        )
        status, data = await fetch_json(jp_fetch, "gpu", "processes")
    finally:
        os.kill(worker, 9)
    assert status == 200, data
    assert isinstance(data["read_at"], str) and data["message"]
    (device,) = data["devices"]
    assert (device["label"], device["name"]) == ("GPU 0", "NVIDIA L4")
    by_pid = {p["pid"]: p for p in device["processes"]}
    main, child, foreign = by_pid[notebook_kernel.pid], by_pid[worker], by_pid[missing]
    for process in (main, child):
        assert process["holder"] == "jupyter-kernel", process
        assert process["kernel_id"] == notebook_kernel.kernel_id
        assert process["kernel_name"] == "python3"
        assert process["notebook_path"] == NOTEBOOK
        assert process["label"] == f"notebook {NOTEBOOK}"
        assert process["verified"] is True
    assert (main["memory_used_gb"], main["sm_util"]) == (round(8 * GiB / 1e9, 3), 71)
    assert child["via_pid"] == notebook_kernel.pid and child["memory_used_gb"] == 1.074
    assert foreign["holder"] == "not-visible"
    assert foreign["label"] == f"pid {missing} (not visible from here)"
    assert foreign["notebook_path"] is None and foreign["kernel_id"] is None
    assert f"no process {missing}" in foreign["note"]
    for process in device["processes"]:
        assert set(process) >= {
            "pid", "holder", "label", "memory_used_gb", "sm_util", "kernel_id", "kernel_name",
            "notebook_path", "container_name", "user", "command", "verified", "note",
        }  # fmt: skip


IN_KERNEL_A = """
import json, os, sys
sys.path[:0] = [{repo!r}, {tests!r}]  # this checkout's labadvisor and the fake NVML
from fake_nvml import FakeNvml, FakeProcess, GiB, l4, use_backend
from labadvisor import gpu
from labadvisor.gpu import procfs
procfs.GPU_DEVICE_PREFIXES = ({prefix!r},)
held = open({device!r}, "rb")  # kernel A holds the "GPU" too
use_backend(FakeNvml([l4(0, processes=[
    FakeProcess({pid_b}, 12 * GiB), FakeProcess(os.getpid(), 1 * GiB)])]))
print(json.dumps(gpu.processes().to_dict()))
"""


async def test_inside_one_notebooks_kernel_another_notebook_is_named(
    jp_fetch: Any,
    gpu_device_file: Path,
    jp_serverapp: Any,
    jp_root_dir: Path,
    notebook_file: str,
    opened: list[NotebookKernel],
) -> None:
    # Two real kernels of one real server; in kernel A, gpu.processes() has no kernel map:
    # it finds kernel B by its command line and asks the server (through the jpserver-*.json
    # file the server wrote) which notebook B runs.
    (jp_root_dir / "a.ipynb").write_text((jp_root_dir / notebook_file).read_text())
    kernel_a = await NotebookKernel.open(jp_fetch, jp_serverapp, "a.ipynb")
    opened.append(kernel_a)
    kernel_b = await NotebookKernel.open(jp_fetch, jp_serverapp, notebook_file)
    opened.append(kernel_b)
    await kernel_b.run(f"gpu = open({str(gpu_device_file)!r}, 'rb')")
    code = IN_KERNEL_A.format(
        repo=str(Path(gpu.__file__).parents[2]),
        tests=str(Path(__file__).parent),
        prefix=str(gpu_device_file.parent / "nvidia"),
        device=str(gpu_device_file),
        pid_b=kernel_b.pid,
    )
    found = json.loads(await kernel_a.run(code))
    by_pid = {p["pid"]: p for p in found["devices"][0]["processes"]}
    b, a = by_pid[kernel_b.pid], by_pid[kernel_a.pid]
    assert b["holder"] == "jupyter-kernel", b
    assert (b["kernel_id"], b["kernel_name"], b["notebook_path"]) == (
        kernel_b.kernel_id,
        "python3",
        NOTEBOOK,
    )
    assert b["label"] == f"notebook {NOTEBOOK}" and b["note"] is None
    assert a["holder"] == "this-kernel" and a["label"] == "this kernel"


async def test_the_server_itself_is_not_this_kernel(
    jp_fetch: Any, fake_nvml: InstallFake, gpu_device_file: Path
) -> None:
    # Seen from the server, "this kernel" would be the server: it is another process there.
    fake_nvml([l4(0, processes=[FakeProcess(os.getpid(), 3 * GiB)])])
    status, data = await fetch_json(jp_fetch, "gpu", "processes")
    assert status == 200, data
    (process,) = data["devices"][0]["processes"]
    assert process["holder"] == "other" and process["kernel_id"] is None
    assert process["label"].startswith(f"process {os.getpid()}")
    assert "this Jupyter server" in process["note"]


async def test_a_terminal_process_is_another_process(
    jp_fetch: Any, fake_nvml: InstallFake, gpu_device_file: Path
) -> None:
    with gpu_device_file.open("rb") as device:
        child = subprocess.Popen(["sleep", "60"], stdin=device)
    try:
        fake_nvml([l4(0, processes=[FakeProcess(child.pid, GiB)])])
        status, data = await fetch_json(jp_fetch, "gpu", "processes")
    finally:
        child.kill()
        child.wait()
    assert status == 200, data
    (process,) = data["devices"][0]["processes"]
    assert (process["holder"], process["command"]) == ("other", "sleep 60")
    assert process["via_pid"] is None


async def test_without_the_process_api_the_list_is_empty_and_says_why(
    jp_fetch: Any, fake_nvml: InstallFake
) -> None:
    names = {
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses",
    }
    fake_nvml([l4(0, processes=[FakeProcess(os.getpid())])], absent=names)
    status, data = await fetch_json(jp_fetch, "gpu", "processes")
    assert status == 200, data
    (device,) = data["devices"]
    assert device["processes"] == []
    assert "nvmlDeviceGetComputeRunningProcesses" in device["unavailable"]["processes"]
    assert "cannot list the GPU processes" in data["message"]


async def test_without_a_gpu_the_answer_says_why(jp_fetch: Any, fake_nvml: InstallFake) -> None:
    fake_nvml([])
    status, data = await fetch_json(jp_fetch, "gpu", "processes")
    assert status == 200, data
    assert (data["status"], data["devices"]) == ("no-devices", [])
    assert data["message"]


async def test_runtime_advice_names_the_notebook_holding_the_gpu_not_this_kernel(
    jp_fetch: Any,
    fake_nvml: InstallFake,
    gpu_device_file: Path,
    jp_serverapp: Any,
    notebook_file: str,
    opened: list[NotebookKernel],
) -> None:
    notebook_kernel = await NotebookKernel.open(jp_fetch, jp_serverapp, notebook_file)
    opened.append(notebook_kernel)
    await notebook_kernel.run(f"gpu = open({str(gpu_device_file)!r}, 'rb')")
    # 20 GiB of the L4's 22.5 GiB used; the notebook's kernel holds 12 GiB of it.
    fake_nvml([l4(0, memory_used=20 * GiB, processes=[FakeProcess(notebook_kernel.pid, 12 * GiB)])])
    # Seen from this (the server's) process the kernel is its child, so the library's own
    # view would call it "this kernel": the advice must not.
    assert gpu.processes().processes[0].holder == "this-kernel"

    body = {"model_size_gb": 5, "gpu": "auto"}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))

    assert status == 200, data
    assert data["choice"] != "local-gpu"
    (reason,) = [r for r in data["reasons"] if r["rule"] == "gpu.holders"]
    assert reason["text"].endswith(f"; notebook {NOTEBOOK} holds 12.9 GB."), reason
    assert reason["text"].startswith("6.0 GB needed, ")
    assert not any("this kernel" in r["text"] for r in data["reasons"]), data["reasons"]


async def test_the_holders_reader_is_the_servers_not_the_bodys(jp_fetch: Any) -> None:
    body = {"model_size_gb": 5, "gpu": None, "gpu_processes": "x"}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 400, data
    unknown, valid = data["message"].split("; valid: ")
    assert "'gpu_processes'" in unknown and "model_size_gb" in valid
    assert "gpu_processes" not in valid


@pytest.mark.docker
async def test_a_container_is_named_by_the_current_contexts_engine(
    jp_fetch: Any, fake_nvml: InstallFake, gpu_container: GpuContainer
) -> None:
    fake_nvml([l4(0, memory_used=20 * GiB, processes=[FakeProcess(gpu_container.pid, 12 * GiB)])])
    status, data = await fetch_json(jp_fetch, "gpu", "processes")
    assert status == 200, data
    (process,) = data["devices"][0]["processes"]
    assert (process["holder"], process["pid"]) == ("container", gpu_container.pid)
    assert process["container_name"] == gpu_container.name
    assert process["label"] == f"container {gpu_container.name}"
    # The runtime advice names it the same way.
    body = {"model_size_gb": 5, "gpu": "auto"}
    status, data = await fetch_json(jp_fetch, "advise", "runtime", **post(body))
    assert status == 200, data
    (reason,) = [r for r in data["reasons"] if r["rule"] == "gpu.holders"]
    assert reason["text"].endswith(f"; container {gpu_container.name} holds 12.9 GB."), reason
