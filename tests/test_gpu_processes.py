"""labadvisor/gpu/processes.py and procfs.py: which processes hold GPU memory and whose
they are. NVML is the fake of fake_nvml.py; /proc is the real one for this process and
real children it starts, and a /proc-like tree (gpu_fixtures.build_proc_tree) for
containers, other processes and other notebooks' kernels (named by fake Jupyter servers,
fake_jupyter.py). A @pytest.mark.gpu test checks a real CUDA child."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_jupyter import session
from fake_nvml import FakeProcess, GiB, a100_mig, l4
from gpu_fixtures import GpuContainer, InstallFake, ProcEntry, StartJupyter, build_proc_tree

from labadvisor import gpu
from labadvisor.contexts.container_names import ContainerNames
from labadvisor.gpu import procfs
from labadvisor.gpu.procfs import Procfs, container_id_in

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")

DOCKER_ID = "3f" * 32
CRI_ID = "ab" * 32
V1_ID = "0123456789abcdef" * 4


def absent_pid() -> int:
    """A pid no process has here (beyond pid_max when it can be read)."""
    try:
        pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 17
    except OSError:
        pid = 4_000_017
    assert not Path(f"/proc/{pid}").exists()
    return pid


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, killed and reaped afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        child.kill()
        child.wait()


# --- this kernel, its children, Jupyter kernels -------------------------------------------


def test_this_process_and_its_child_are_this_kernel(
    fake_nvml: InstallFake, gpu_device_file: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    with gpu_device_file.open("rb") as device:  # the child holds the "GPU" as CUDA would
        child = subprocess.Popen(["sleep", "30"], stdin=device)
    children.append(child)
    # On a loaded machine /proc/<pid>/cmdline was once read empty just after Popen (make test,
    # 2026-11-26); the test is about what /proc says once it says it, so it waits for that.
    cmdline = Path(f"/proc/{child.pid}/cmdline")
    deadline = time.monotonic() + 5
    while cmdline.read_bytes() != b"sleep\x0030\x00" and time.monotonic() < deadline:
        time.sleep(0.01)
    me = os.getpid()
    fake_nvml(
        [
            l4(
                0,
                processes=[
                    FakeProcess(me, 3 * GiB, utilization=(81, 6)),
                    FakeProcess(child.pid, 1 * GiB, utilization=(13, 1)),
                ],
            )
        ]
    )
    found = gpu.processes()
    assert found.status == "ok"
    (unit,) = found.devices
    mine, child_process = unit.processes  # largest first
    assert (mine.pid, mine.holder, mine.via_pid, mine.verified) == (me, "this-kernel", None, True)
    assert (mine.memory_used, mine.sm_utilization, mine.memory_utilization) == (3 * GiB, 81, 6)
    assert mine.user == pwd.getpwuid(os.getuid()).pw_name
    assert mine.command is not None and "pytest" in mine.command
    assert child_process.pid == child.pid
    assert child_process.holder == "this-kernel" and child_process.via_pid == me
    assert child_process.command == "sleep 30" and child_process.sm_utilization == 13
    assert child_process.describe() == f"this kernel (child pid {child.pid})"
    assert found.message == "2 process(es) hold 4.3 GB on 1 GPU unit"


def test_a_local_pid_without_a_gpu_device_open_is_not_visible(
    fake_nvml: InstallFake, gpu_device_file: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    # The process with this number here holds no GPU: NVML meant another namespace's pid.
    bystander = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    children.append(bystander)
    fake_nvml([l4(0, processes=[FakeProcess(bystander.pid)])])
    (process,) = gpu.processes().processes
    assert process.holder == "not-visible"
    assert process.via_pid is None and process.user is None and process.command is None
    assert "has no NVIDIA device open" in (process.note or "")
    assert process.label == f"pid {bystander.pid} (not visible from here)"


def test_a_pid_that_does_not_exist_here_is_not_visible(fake_nvml: InstallFake) -> None:
    pid = absent_pid()
    fake_nvml([l4(0, processes=[FakeProcess(pid, 5 * GiB)])])
    found = gpu.processes()
    (process,) = found.processes
    assert process.holder == "not-visible" and process.memory_used == 5 * GiB
    assert f"no process {pid} in this PID namespace" in (process.note or "")
    assert found.notes and "container" in found.notes[0]  # every pid is foreign: say why


def test_a_kernel_and_its_child_are_that_kernels_notebook(
    fake_nvml: InstallFake, gpu_device_file: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    # A "kernel" (a shell) with a DataLoader-like worker (sleep), both holding the device.
    # (sh gives a background job /dev/null as stdin, so the worker opens the device itself.)
    with gpu_device_file.open("rb") as device:
        kernel = subprocess.Popen(
            ["sh", "-c", 'sleep 30 <"$1" & echo $!; wait', "sh", str(gpu_device_file)],
            stdin=device,
            stdout=subprocess.PIPE,
        )
    children.append(kernel)
    assert kernel.stdout is not None
    worker = int(kernel.stdout.readline())
    info = gpu.KernelInfo("5e1f0c2a-9d7b-4c1e-8f00-aaaaaaaaaaaa", "python3", "train.ipynb")
    fake_nvml([l4(0, processes=[FakeProcess(kernel.pid, 8 * GiB), FakeProcess(worker, GiB)])])
    found = gpu.processes(kernel_pids={kernel.pid: info})
    main, loader = found.processes
    # The kernel is this process's child too: the nearest match, the kernel map, wins.
    assert (main.pid, main.holder, main.kernel, main.via_pid) == (
        kernel.pid,
        "jupyter-kernel",
        info,
        None,
    )
    assert (loader.pid, loader.holder, loader.kernel, loader.via_pid) == (
        worker,
        "jupyter-kernel",
        info,
        kernel.pid,
    )
    assert main.label == loader.label == "notebook train.ipynb"
    assert main.holder_key == loader.holder_key == f"kernel:{info.kernel_id}"
    row = found.to_dict()["devices"][0]["processes"][1]
    assert (row["kernel_id"], row["notebook_path"], row["kernel_name"]) == (
        info.kernel_id,
        "train.ipynb",
        "python3",
    )


def test_this_kernel_in_the_kernel_map_keeps_its_notebook(
    fake_nvml: InstallFake, gpu_device_file: Path
) -> None:
    info = gpu.KernelInfo("k1", "python3", "me.ipynb")
    fake_nvml([l4(0, processes=[FakeProcess(os.getpid())])])
    (process,) = gpu.processes({os.getpid(): info}).processes
    assert process.holder == "this-kernel" and process.kernel == info


# --- containers and other processes, through a /proc-like tree ------------------------------


@pytest.fixture
def proc_tree(tmp_path: Path) -> Path:
    return build_proc_tree(
        tmp_path / "proc",
        {
            1: ProcEntry(ppid=0, comm="systemd", cmdline=("/sbin/init",), open_files=()),
            4242: ProcEntry(cgroup=f"0::/system.slice/docker-{DOCKER_ID}.scope"),
            4243: ProcEntry(cgroup=f"12:memory:/docker/{V1_ID}\n11:cpu:/docker/{V1_ID}"),
            4244: ProcEntry(
                cgroup="0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-"
                f"pod1_2.slice/cri-containerd-{CRI_ID}.scope"
            ),
            4245: ProcEntry(cmdline=("python3", "serve.py", "--price", "$5")),
            4246: ProcEntry(comm="bash", cmdline=("bash",), open_files=("/dev/pts/1",)),
            4247: ProcEntry(fd_readable=False),
            4248: ProcEntry(ppid=4249),  # a parent loop must not hang the ancestry walk
            4249: ProcEntry(ppid=4248, open_files=()),
        },
    )


def test_containers_are_named_by_the_callback_and_others_by_user_and_command(
    fake_nvml: InstallFake, proc_tree: Path
) -> None:
    gone = absent_pid()
    pids = [4242, 4243, 4244, 4245, 4246, 4247, 4248, gone]
    fake_nvml([l4(0, processes=[FakeProcess(pid, (10 - i) * GiB) for i, pid in enumerate(pids)])])
    asked: list[str] = []

    def names(container: str) -> str | None:
        asked.append(container)
        if container == CRI_ID:
            raise ConnectionError("engine down")
        return {DOCKER_ID: "web"}.get(container)

    found = gpu.processes(docker_names=names, proc_root=proc_tree)
    by_pid = {p.pid: p for p in found.processes}
    assert sorted(asked) == sorted([DOCKER_ID, V1_ID, CRI_ID])  # each id asked once
    web = by_pid[4242]
    assert (web.holder, web.container_id, web.container_name) == ("container", DOCKER_ID, "web")
    assert web.label == "container web" and web.holder_key == f"container:{DOCKER_ID}"
    assert (by_pid[4243].holder, by_pid[4243].container_id) == ("container", V1_ID)
    assert by_pid[4243].label == f"container {V1_ID[:12]}"  # no name: the short id
    assert (by_pid[4244].container_id, by_pid[4244].container_name) == (CRI_ID, None)
    other = by_pid[4245]
    assert other.holder == "other" and other.verified
    assert other.command == "python3 serve.py --price $5"
    me = pwd.getpwuid(os.getuid()).pw_name
    assert other.user == me  # the owner of the tree's /proc/<pid>, as /proc's
    assert other.label == f"process 4245 ({me}: python3 serve.py --price $5)"
    assert by_pid[4246].holder == "not-visible"  # exists, but holds no NVIDIA device
    unchecked = by_pid[4247]
    assert unchecked.holder == "other" and not unchecked.verified
    assert "could not check" in (unchecked.note or "")
    assert unchecked.describe().endswith("[unverified]")
    assert by_pid[4248].holder == "other"
    assert by_pid[gone].holder == "not-visible"


@pytest.mark.parametrize(
    ("cgroup", "expected"),
    [
        (f"0::/system.slice/docker-{DOCKER_ID}.scope", DOCKER_ID),
        (f"0::/system.slice/docker-{DOCKER_ID}.scope/init.scope", DOCKER_ID),
        (f"12:pids:/docker/{DOCKER_ID}\n1:name=systemd:/docker/{DOCKER_ID}", DOCKER_ID),
        (f"0::/kubepods/besteffort/pod7c1e/{CRI_ID}", CRI_ID),
        (f"0::/kubepods.slice/x.slice/cri-containerd-{CRI_ID}.scope", CRI_ID),
        (f"0::/kubepods.slice/crio-{CRI_ID}.scope", CRI_ID),
        (f"0::/machine.slice/libpod-{CRI_ID}.scope/container", CRI_ID),
        ("0::/", None),
        ("0::/user.slice/user-1000.slice/session-3.scope", None),
        ("0::/process_api/9bdd30f21b488b9f1a3406c5f322fc7f", None),  # 32 hex: not a container
        (f"0::/system.slice/docker-{DOCKER_ID[:-1]}.scope", None),  # 63 hex digits
    ],
)
def test_container_ids_in_cgroup_files(cgroup: str, expected: str | None) -> None:
    assert container_id_in(cgroup) == expected


def test_each_pid_is_read_once_per_call(
    fake_nvml: InstallFake, proc_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[int, str]] = []
    original = Procfs._read_bytes

    def counting(self: Procfs, pid: int, name: str) -> bytes | None:
        reads.append((pid, name))
        return original(self, pid, name)

    monkeypatch.setattr(Procfs, "_read_bytes", counting)
    same = [FakeProcess(4242), FakeProcess(4245)]  # one job on both GPUs
    fake_nvml([l4(0, processes=list(same)), l4(1, processes=list(same))])
    found = gpu.processes(proc_root=proc_tree)
    assert len(found.processes) == 4
    assert len(reads) == len(set(reads))  # no file read twice
    gpu.processes(proc_root=proc_tree)
    assert len(reads) == 2 * len(set(reads))  # the next call reads afresh


# --- other notebooks' kernels, known by their command lines (no kernel map) -------------------

KERNEL_B = "5e1f0c2a-9d7b-4c1e-8f00-bbbbbbbbbbbb"
MINE = "0c2a5e1f-9d7b-4c1e-8f00-aaaaaaaaaaaa"


def kernel_command(kernel_id: str) -> tuple[str, ...]:
    """A kernel's command line as jupyter_client starts ipykernel."""
    return ("/usr/bin/python3", "-m", "ipykernel_launcher", "-f", f"/x/kernel-{kernel_id}.json")


@pytest.fixture
def kernels_tree(tmp_path: Path) -> Path:
    """A Jupyter server (4300) with another notebook's kernel (4301) and its DataLoader
    worker (4302), a console client of that kernel (4303), and this process as a kernel of
    the same server with a worker of its own (4304)."""
    me = os.getpid()
    assert me not in range(4300, 4310)
    return build_proc_tree(
        tmp_path / "proc",
        {
            1: ProcEntry(ppid=0, comm="init", cmdline=("/sbin/init",), open_files=()),
            4300: ProcEntry(
                comm="jupyter-lab",
                cmdline=("/usr/bin/python3", "/usr/local/bin/jupyter-lab", "--no-browser"),
                open_files=(),
            ),
            4301: ProcEntry(ppid=4300, cmdline=kernel_command(KERNEL_B)),
            4302: ProcEntry(
                ppid=4301,
                comm="pt_data_worker",
                cmdline=("/usr/bin/python3", "-c", "from multiprocessing.spawn import spawn_main"),
            ),
            4303: ProcEntry(
                cmdline=(
                    "python3",
                    "-m",
                    "jupyter_console",
                    "--existing",
                    f"kernel-{KERNEL_B}.json",
                )
            ),
            me: ProcEntry(ppid=4300, cmdline=kernel_command(MINE)),
            4304: ProcEntry(ppid=me, cmdline=("python3", "-c", "worker")),
        },
    )


def kernel_b_on_the_gpu(fake_nvml: InstallFake) -> None:
    fake_nvml(
        [
            l4(
                0,
                memory_used=20 * GiB,
                processes=[
                    FakeProcess(4301, 12 * GiB),
                    FakeProcess(4302, 1 * GiB),
                    FakeProcess(4303, GiB // 2),
                    FakeProcess(os.getpid(), 2 * GiB),
                    FakeProcess(4304, GiB // 4),
                ],
            )
        ]
    )


def test_another_notebooks_kernel_and_its_worker_are_named_by_its_server(
    fake_nvml: InstallFake, kernels_tree: Path, runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    server = fake_jupyter(
        sessions=[session(KERNEL_B, "work/train.ipynb"), session(MINE, "me.ipynb")]
    )
    server.write_server_file(runtime_dir, os.getppid())
    kernel_b_on_the_gpu(fake_nvml)
    found = gpu.processes(proc_root=kernels_tree)
    by_pid = {p.pid: p for p in found.processes}
    info = gpu.KernelInfo(KERNEL_B, "python3", "work/train.ipynb")
    kernel, worker = by_pid[4301], by_pid[4302]
    assert (kernel.holder, kernel.kernel, kernel.via_pid, kernel.note) == (
        "jupyter-kernel",
        info,
        None,
        None,
    )
    assert (worker.holder, worker.kernel, worker.via_pid) == ("jupyter-kernel", info, 4301)
    assert kernel.label == worker.label == "notebook work/train.ipynb"
    assert kernel.holder_key == worker.holder_key == f"kernel:{KERNEL_B}"
    assert worker.describe() == "notebook work/train.ipynb (child pid 4302)"
    row = found.to_dict()["devices"][0]["processes"][0]
    assert (row["kernel_id"], row["kernel_name"], row["notebook_path"]) == (
        KERNEL_B,
        "python3",
        "work/train.ipynb",
    )
    # A client connected to the kernel is not the kernel.
    assert by_pid[4303].holder == "other"
    # This process stays "this kernel", and so does its worker, though both are kernels'.
    assert by_pid[os.getpid()].holder == by_pid[4304].holder == "this-kernel"
    assert by_pid[os.getpid()].kernel is None
    # The advice's words: 13 GiB of kernel B's close the 6.0 - 2.7 GB gap.
    room = gpu.make_room(6 * 10**9, found.devices[0])
    assert room.text.endswith("; notebook work/train.ipynb holds 14.0 GB"), room.text
    (request,) = server.requests  # one lookup for both processes
    assert request.authorization == f"token {server.token}"
    gpu.processes(proc_root=kernels_tree)
    assert len(server.requests) == 1  # the answer is kept a few seconds


def test_without_a_server_another_kernel_is_known_by_its_id(
    fake_nvml: InstallFake, kernels_tree: Path, runtime_dir: Path
) -> None:
    kernel_b_on_the_gpu(fake_nvml)
    by_pid = {p.pid: p for p in gpu.processes(proc_root=kernels_tree).processes}
    kernel, worker = by_pid[4301], by_pid[4302]
    assert kernel.holder == worker.holder == "jupyter-kernel"
    assert kernel.kernel == worker.kernel == gpu.KernelInfo(KERNEL_B)
    assert kernel.label == worker.label == "kernel 5e1f0c2a"
    assert kernel.holder_key == f"kernel:{KERNEL_B}"
    assert kernel.note is not None and "known by its connection file" in kernel.note
    assert "no Jupyter server of this user found" in kernel.note


def test_a_hanging_server_leaves_the_kernel_id_in_bounded_time(
    fake_nvml: InstallFake, kernels_tree: Path, runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    fake_jupyter(hang=True).write_server_file(runtime_dir, os.getppid())
    kernel_b_on_the_gpu(fake_nvml)
    started = time.monotonic()
    found = gpu.processes(proc_root=kernels_tree)
    took = time.monotonic() - started
    assert took < 1.5, took  # half a second of waiting, and the rest of the call
    by_pid = {p.pid: p for p in found.processes}
    assert by_pid[4301].label == by_pid[4302].label == "kernel 5e1f0c2a"
    assert "within 0.5 s" in (by_pid[4301].note or "")


KERNEL_INFO_B = gpu.KernelInfo(KERNEL_B, "python3", "from-the-map.ipynb")


def test_the_kernel_map_is_the_word_on_kernels_when_given(
    fake_nvml: InstallFake, kernels_tree: Path, runtime_dir: Path, fake_jupyter: StartJupyter
) -> None:
    # The server passes its map: its kernels are its pids and their children. A kernel it
    # does not hold belongs to another server, whose notebook paths are not this one's to
    # open: it stays another process, and no server is asked.
    server = fake_jupyter(sessions=[session(KERNEL_B, "work/train.ipynb")])
    server.write_server_file(runtime_dir, os.getppid())
    kernel_b_on_the_gpu(fake_nvml)
    mine = gpu.KernelInfo("another-kernel", "python3", "x.ipynb")
    for kernel_map in ({4301: KERNEL_INFO_B}, {99: mine}, {}):
        by_pid = {p.pid: p for p in gpu.processes(kernel_map, proc_root=kernels_tree).processes}
        if kernel_map:
            assert by_pid[4302].kernel == kernel_map.get(4301), kernel_map
        held = ("jupyter-kernel" if 4301 in kernel_map else "other",) * 2
        assert (by_pid[4301].holder, by_pid[4302].holder) == held, kernel_map
    assert by_pid[4301].command == " ".join(kernel_command(KERNEL_B))
    assert server.requests == []


def test_a_kernel_in_another_container_is_named_by_its_container(
    fake_nvml: InstallFake, tmp_path: Path, runtime_dir: Path
) -> None:
    # Seen from a kernel in container A: a kernel beside it counts as a kernel, one in
    # container B (whose servers are out of reach) as container B.
    me = os.getpid()
    in_a = f"0::/system.slice/docker-{DOCKER_ID}.scope"
    in_b = f"0::/system.slice/docker-{CRI_ID}.scope"
    tree = build_proc_tree(
        tmp_path / "proc",
        {
            me: ProcEntry(cmdline=kernel_command(MINE), cgroup=in_a),
            4301: ProcEntry(cmdline=kernel_command(KERNEL_B), cgroup=in_a),
            4311: ProcEntry(cmdline=kernel_command("kernel-in-b"), cgroup=in_b),
        },
    )
    fake_nvml([l4(0, processes=[FakeProcess(4301), FakeProcess(4311)])])
    by_pid = {p.pid: p for p in gpu.processes(proc_root=tree).processes}
    assert (by_pid[4301].holder, by_pid[4301].kernel) == (
        "jupyter-kernel",
        gpu.KernelInfo(KERNEL_B),
    )
    assert (by_pid[4311].holder, by_pid[4311].container_id) == ("container", CRI_ID)
    assert by_pid[4311].kernel is None


# --- what NVML gives, and what it lacks ------------------------------------------------------


def test_newest_utilization_sample_per_pid(fake_nvml: InstallFake) -> None:
    pid = absent_pid()
    fake_nvml([l4(0, processes=[FakeProcess(pid, utilization=(40, 9), older=[(99, 50), (1, 1)])])])
    (process,) = gpu.processes().processes
    assert (process.sm_utilization, process.memory_utilization) == (40, 9)


def test_no_utilization_samples_is_not_a_missing_field(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0, processes=[FakeProcess(absent_pid())])])
    found = gpu.processes()
    (unit,) = found.devices
    assert unit.processes[0].sm_utilization is None
    assert "process_utilization" not in unit.unavailable  # NotFound: no sample, nothing broken


def test_no_processes_means_no_utilization_query(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0)])
    found = gpu.processes()
    assert found.processes == () and found.message == "no compute process on 1 GPU unit"
    assert fake.calls["nvmlDeviceGetProcessUtilization"] == 0


def test_the_newest_process_api_is_asked_first(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0, processes=[FakeProcess(absent_pid())])])
    gpu.processes()
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses_v3"] == 1
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses_v2"] == 0
    fake = fake_nvml(
        [l4(0, processes=[FakeProcess(absent_pid())])],
        missing={"nvmlDeviceGetComputeRunningProcesses_v3"},
        absent={"nvmlDeviceGetComputeRunningProcesses_v2"},
    )
    assert len(gpu.processes().processes) == 1
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1


@pytest.mark.parametrize("how", ["absent", "missing"])
def test_nvml_without_the_process_api_gives_an_empty_list_and_why(
    fake_nvml: InstallFake, how: str
) -> None:
    names = {
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses",
    }
    gpus = [l4(0, processes=[FakeProcess(os.getpid())])]
    if how == "absent":
        fake_nvml(gpus, absent=names)
    else:
        fake_nvml(gpus, missing=names)
    found = gpu.processes()
    assert found.status == "ok" and found.processes == ()
    why = found.devices[0].unavailable["processes"]
    expected = "this nvidia-ml-py" if how == "absent" else "this driver's NVML"
    assert why == f"nvmlDeviceGetComputeRunningProcesses is not in {expected}"
    assert found.message == f"NVML cannot list the GPU processes here: {why}"
    assert found.devices[0].memory_total == 23034 * 1024**2  # the rest still answers
    assert "processes unknown" in str(found)


def test_not_supported_process_list_says_so(fake_nvml: InstallFake) -> None:
    unsupported = {"nvmlDeviceGetComputeRunningProcesses_v3"}
    fake_nvml([l4(0, unsupported=unsupported), l4(1, processes=[FakeProcess(absent_pid())])])
    found = gpu.processes()
    assert "Not Supported" in found.devices[0].unavailable["processes"]
    assert found.message.endswith("on 1 GPU unit; 1 more could not be listed")


def test_mig_instances_list_their_own_processes(fake_nvml: InstallFake) -> None:
    gpu0 = a100_mig(0, instances=2)
    gpu0.mig[0].processes = [FakeProcess(absent_pid(), 2 * GiB)]
    gpu0.mig[1].processes = [FakeProcess(absent_pid() + 1, 3 * GiB)]
    fake_nvml([gpu0])
    found = gpu.processes()
    assert [u.label for u in found.devices] == ["GPU 0 MIG 0", "GPU 0 MIG 1"]
    assert [[p.memory_used for p in u.processes] for u in found.devices] == [[2 * GiB], [3 * GiB]]
    assert found.unit(0, 1) is found.devices[1] and found.unit(0) is None
    assert "process_utilization" in found.devices[0].unavailable  # not per MIG instance


def test_a_gpu_lost_before_the_query_is_marked_invalid(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), l4(1, processes=[FakeProcess(absent_pid())])])
    gpu.detect()
    fake.gpus[0].lost = True
    found = gpu.processes()
    assert not found.devices[0].valid and found.devices[0].error
    assert len(found.devices[1].processes) == 1


def test_unknown_process_memory_stays_unknown(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0, processes=[FakeProcess(absent_pid(), memory_used=None)])])
    (process,) = gpu.processes().processes
    assert process.memory_used is None


def test_without_nvml_the_answer_is_empty_with_detections_reason() -> None:
    found = gpu.processes()  # the real pynvml: this machine may well have no GPU
    report = gpu.detect()
    assert found.status == report.status
    if not report.ok:
        assert found.devices == () and found.message == report.message


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="kernel_pids must map process ids"):
        gpu.processes(kernel_pids=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive process ids, got '12'"):
        gpu.processes(kernel_pids={"12": gpu.KernelInfo("k")})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"kernel_pids\[12\] must be a labadvisor.gpu.KernelInfo"):
        gpu.processes(kernel_pids={12: "k"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="docker_names must be a function"):
        gpu.processes(docker_names="web")  # type: ignore[arg-type]


# --- views -----------------------------------------------------------------------------------


def test_views_are_strict_json_a_frame_and_escaped_html(
    fake_nvml: InstallFake, proc_tree: Path
) -> None:
    fake_nvml([l4(0, processes=[FakeProcess(4245, 2 * GiB, utilization=(5, 1))]), l4(1)])
    found = gpu.processes(proc_root=proc_tree)
    data = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    (row,) = data["devices"][0]["processes"]
    assert (row["pid"], row["holder"], row["memory_used"], row["sm_utilization"]) == (
        4245,
        "other",
        2 * GiB,
        5,
    )
    assert data["read_at"].endswith("Z")
    frame = found.to_frame()
    assert list(frame.columns[:6]) == [
        "device",
        "pid",
        "holder",
        "label",
        "memory_used",
        "sm_utilization",
    ]
    assert frame.loc[0, "memory_used"] == 2 * GiB and str(frame["memory_used"].dtype) == "Int64"
    page = found._repr_html_()
    assert "$" not in page and "--price &#36;5" in page
    text = str(found)
    assert "GPU 0" in text and "pid 4245" in text and "SM 5%" in text


def test_an_empty_answer_has_an_empty_frame() -> None:
    empty = gpu.GpuProcesses("no-devices", "no GPU")
    assert empty.to_frame().empty and "device" in empty.to_frame().columns
    assert json.dumps(empty.to_dict(), allow_nan=False)


# --- make_room -------------------------------------------------------------------------------


def _unit(*processes: gpu.GpuProcess, free: int | None = 9 * GiB) -> gpu.UnitProcesses:
    return gpu.UnitProcesses(0, None, "NVIDIA L4", memory_total=24 * GiB, memory_free=free,
                             processes=processes)  # fmt: skip


NOTEBOOK = gpu.KernelInfo("k-train", "python3", "train.ipynb")


def test_make_room_names_the_smallest_holder_that_closes_the_gap() -> None:
    unit = _unit(
        gpu.GpuProcess(10, "jupyter-kernel", 10 * GiB, kernel=NOTEBOOK),
        gpu.GpuProcess(11, "jupyter-kernel", 2 * GiB, kernel=NOTEBOOK, via_pid=10),
        gpu.GpuProcess(20, "other", 15 * GiB, user="ana", command="python big.py"),
        gpu.GpuProcess(30, "this-kernel", 1 * GiB),
    )
    room = gpu.make_room(18 * GiB, unit)
    assert not room.fits and room.enough
    (holder,) = room.holders  # 9 GB short: the notebook (12 GB with its worker) suffices
    assert (holder.label, holder.memory, [p.pid for p in holder.processes]) == (
        "notebook train.ipynb",
        12 * GiB,
        [10, 11],
    )
    assert room.text == ("19.3 GB needed, 9.7 GB free on GPU 0; notebook train.ipynb holds 12.9 GB")
    json.dumps(room.to_dict(), allow_nan=False)


def test_make_room_takes_several_holders_when_none_suffices_alone() -> None:
    unit = _unit(
        gpu.GpuProcess(20, "other", 4 * GiB),
        gpu.GpuProcess(30, "this-kernel", 3 * GiB),
        gpu.GpuProcess(40, "not-visible", 1 * GiB),
    )
    room = gpu.make_room(15 * GiB, unit)
    assert room.enough and [h.key for h in room.holders] == ["pid:20", "this-kernel"]
    assert "process 20 holds 4.3 GB and this kernel holds 3.2 GB" in room.text


def test_make_room_says_when_freeing_everything_is_not_enough() -> None:
    room = gpu.make_room(30 * GiB, _unit(gpu.GpuProcess(20, "other", 4 * GiB)))
    assert not room.enough and len(room.holders) == 1
    assert "would be missing" in room.text
    bare = gpu.make_room(30 * GiB, _unit())
    assert "no process on it holds memory" in bare.text and not bare.enough


def test_make_room_when_it_fits_or_the_list_or_free_memory_is_unknown() -> None:
    fits = gpu.make_room(5 * GiB, _unit())
    assert fits.fits and fits.enough and fits.text.endswith(": it fits")
    unlisted = gpu.UnitProcesses(0, None, "L4", memory_free=GiB, unavailable={"processes": "no"})
    assert "unknown (no)" in gpu.make_room(5 * GiB, unlisted).text
    unknown_free = gpu.make_room(5 * GiB, _unit(gpu.GpuProcess(20, "other", GiB), free=None))
    assert not unknown_free.enough and len(unknown_free.holders) == 1
    assert gpu.make_room(5 * GiB, _unit(), free=6 * GiB).fits  # the caller's newer reading
    with pytest.raises(ValueError, match="needed must be a number of bytes"):
        gpu.make_room(-1, _unit())


# --- real hardware ---------------------------------------------------------------------------

CUDA_HOLDER = r"""
import sys, time
try:
    import torch
    x = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
except ImportError:
    import cupy
    x = cupy.empty(256 * 2**20, dtype=cupy.uint8)
    cupy.cuda.Device().synchronize()
print("ready", flush=True)
time.sleep(60)
"""


def _cuda_library() -> str | None:
    import importlib.util

    return next((m for m in ("torch", "cupy") if importlib.util.find_spec(m)), None)


@pytest.mark.gpu
def test_real_cuda_child_is_attributed_to_this_kernel(
    real_gpu: None, children: list[subprocess.Popen[bytes]]
) -> None:
    if _cuda_library() is None:
        pytest.skip("needs torch or cupy to hold GPU memory")
    child = subprocess.Popen([sys.executable, "-c", CUDA_HOLDER], stdout=subprocess.PIPE)
    children.append(child)
    assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 10
    while True:
        found = gpu.processes()
        mine = [p for p in found.processes if p.pid == child.pid]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(found)
    assert mine, f"NVML did not list the child {child.pid}: {found.message}"
    (process,) = mine
    assert process.holder == "this-kernel" and process.via_pid == os.getpid()
    assert process.verified and (process.memory_used or 0) >= 256 * 2**20
    start = time.perf_counter()
    gpu.processes()
    print(f"processes() on this machine: {(time.perf_counter() - start) * 1e3:.2f} ms")


def test_gpu_device_prefixes_default_to_nvidia_devices() -> None:
    assert procfs.GPU_DEVICE_PREFIXES == ("/dev/nvidia",)


@pytest.mark.docker
def test_a_real_containers_process_is_named_by_the_current_contexts_engine(
    fake_nvml: InstallFake, gpu_container: GpuContainer
) -> None:
    fake_nvml([l4(0, processes=[FakeProcess(gpu_container.pid, 5 * GiB)])])
    (unnamed,) = gpu.processes().processes  # no one to ask: the short id names it
    assert (unnamed.holder, unnamed.container_id) == ("container", gpu_container.id)
    assert unnamed.label == f"container {gpu_container.id[:12]}"
    with ContainerNames() as names:
        (process,) = gpu.processes(docker_names=names).processes
    assert (process.holder, process.container_id) == ("container", gpu_container.id)
    assert process.container_name == gpu_container.name
    assert process.label == f"container {gpu_container.name}"
    assert process.verified and process.command == "sleep 300"
