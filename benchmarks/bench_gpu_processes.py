"""What one ``labadvisor.gpu.processes()`` call costs for 8 GPUs × 50 processes (the fake
NVML of tests/fake_nvml.py), against a target of 20 ms per call.

    .venv/bin/python benchmarks/bench_gpu_processes.py [--calls 50]

Three /proc views: a generated /proc-like tree (20 Jupyter kernels with 4 workers each, 10
containers with 10 processes each, 100 other processes, 100 pids of another namespace)
with the server's kernel map; the same tree as seen inside a kernel, without the map (the
kernels are found by the connection files on their command lines; the Jupyter runtime
directory is an empty one, so no server is asked); and the real /proc, where NVML
"reports" the pids of processes running here (none holds a GPU device, so each one's open
files are all looked at before it is called not visible).
Prints each as a ratio of the target and the /proc files read per call; exits 1 if a
target is missed. The target is judged on CPU time (user + system) per call: on a shared
machine wall time also counts waiting for a core; both are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labadvisor import gpu
from labadvisor.gpu.procfs import Procfs

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"
TARGET_S = 0.020
GPUS, PER_GPU = 8, 50


def generated_tree(root: Path) -> tuple[list[int], dict[int, gpu.KernelInfo]]:
    """The 400 pids NVML will report, laid out under ``root``, and the kernel map."""
    from gpu_fixtures import ProcEntry, build_proc_tree

    entries: dict[int, ProcEntry] = {1: ProcEntry(ppid=0, comm="init", open_files=())}
    kernels: dict[int, gpu.KernelInfo] = {}
    reported: list[int] = []
    for k in range(20):
        kernel = 10_000 + k * 10
        kernel_id = f"{k:08x}-9d7b-4c1e-8f00-000000000000"
        kernels[kernel] = gpu.KernelInfo(kernel_id, "python3", f"work/notebook{k}.ipynb")
        connection = f"/run/jupyter/kernel-{kernel_id}.json"
        entries[kernel] = ProcEntry(
            cmdline=("python", "-m", "ipykernel_launcher", "-f", connection)
        )
        reported.append(kernel)
        for w in range(1, 5):
            entries[kernel + w] = ProcEntry(ppid=kernel)
            reported.append(kernel + w)
    for c in range(10):
        cid = f"{c:02x}" * 32
        for p in range(10):
            pid = 20_000 + c * 10 + p
            entries[pid] = ProcEntry(cgroup=f"0::/system.slice/docker-{cid}.scope")
            reported.append(pid)
    for o in range(100):
        entries[30_000 + o] = ProcEntry(ppid=1, cmdline=("python3", f"job{o}.py"))
        reported.append(30_000 + o)
    reported.extend(range(4_000_000, 4_000_100))  # another namespace's pids: no such dir
    build_proc_tree(root, entries)
    return reported, kernels


def local_pids() -> list[int]:
    """400 pids of processes running here (repeated when there are fewer)."""
    pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    return [pids[i % len(pids)] for i in range(GPUS * PER_GPU)]


def install(pids: list[int]) -> None:
    from fake_nvml import FakeNvml, FakeProcess, GiB, l4, use_backend

    gpus = [
        l4(
            g,
            processes=[
                FakeProcess(pid, GiB // 4, utilization=(i % 100, 1))
                for i, pid in enumerate(pids[g * PER_GPU : (g + 1) * PER_GPU])
            ],
        )
        for g in range(GPUS)
    ]
    use_backend(FakeNvml(gpus))
    gpu.detect()  # the inventory is cached; processes() costs only its own queries


def timed(
    call: Callable[[], gpu.GpuProcesses], calls: int
) -> tuple[float, float, gpu.GpuProcesses]:
    """Median CPU seconds (user + system) and wall seconds of one call, and its answer."""
    result = call()  # warm: imports, the user-name cache
    cpu_times, wall_times = [], []
    for _ in range(calls):
        cpu, wall = time.process_time(), time.perf_counter()
        result = call()
        cpu_times.append(time.process_time() - cpu)
        wall_times.append(time.perf_counter() - wall)
    return statistics.median(cpu_times), statistics.median(wall_times), result


def reads_per_call(call: Callable[[], gpu.GpuProcesses]) -> int:
    count = 0
    original = Procfs._read_bytes

    def counting(self: Procfs, pid: int, name: str) -> bytes | None:
        nonlocal count
        count += 1
        return original(self, pid, name)

    Procfs._read_bytes = counting  # type: ignore[method-assign]
    try:
        call()
    finally:
        Procfs._read_bytes = original  # type: ignore[method-assign]
    return count


def report(what: str, cpu: float, wall: float, result: gpu.GpuProcesses, reads: int) -> bool:
    kinds: dict[str, int] = {}
    for process in result.processes:
        kinds[process.holder] = kinds.get(process.holder, 0) + 1
    print(
        f"{what}: {cpu * 1e3:.2f} ms of CPU per call = {cpu / TARGET_S:.1%} of the 20 ms "
        f"target (wall {wall * 1e3:.2f} ms = {wall / TARGET_S:.1%}); {len(result.processes)} "
        f"processes: {kinds}; {reads} /proc files read per call"
    )
    return cpu < TARGET_S


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="timed calls per case")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS_DIR))  # for fake_nvml and gpu_fixtures
    from fake_nvml import use_backend

    met = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proc"
            pids, kernels = generated_tree(root)
            install(pids)

            def tree_call() -> gpu.GpuProcesses:
                return gpu.processes(kernels, lambda cid: f"svc-{cid[:2]}", proc_root=root)

            cpu, wall, result = timed(tree_call, args.calls)
            met &= report("generated /proc tree", cpu, wall, result, reads_per_call(tree_call))

            def in_a_kernel() -> gpu.GpuProcesses:
                return gpu.processes(None, lambda cid: f"svc-{cid[:2]}", proc_root=root)

            runtime = Path(tmp) / "jupyter-runtime"
            runtime.mkdir()
            saved = os.environ.get("JUPYTER_RUNTIME_DIR")
            os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)  # no server: none is asked
            try:
                cpu, wall, result = timed(in_a_kernel, args.calls)
                reads = reads_per_call(in_a_kernel)
            finally:
                if saved is None:
                    del os.environ["JUPYTER_RUNTIME_DIR"]
                else:
                    os.environ["JUPYTER_RUNTIME_DIR"] = saved
            met &= report("same tree inside a kernel (no map)", cpu, wall, result, reads)
        install(local_pids())
        cpu, wall, result = timed(gpu.processes, args.calls)
        reads = reads_per_call(gpu.processes)
        met &= report("real /proc, local pids", cpu, wall, result, reads)
    finally:
        use_backend(None)
    print("target met" if met else "TARGET MISSED: a processes() call took 20 ms of CPU or more")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
