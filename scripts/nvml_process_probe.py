"""Start a process that holds GPU memory (and a child of it that does too), then print what
NVML's per-process queries report about them, and what labadvisor.gpu.processes() makes of
them: both holders should be "this kernel" (descendants of this script).

Needs torch with CUDA for the holders; without it only the queries' availability is printed.
Run from the repository root (or with it on PYTHONPATH) to print labadvisor's view.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HOLDER = r"""
import os, sys, time, subprocess
import torch
x = torch.empty(int(sys.argv[1]) * 2**20, dtype=torch.uint8, device="cuda")
y = torch.randn(4096, 4096, device="cuda")
if sys.argv[2] == "parent":
    child = subprocess.Popen([sys.executable, "-c", sys.argv[3], "256", "child", ""])
    print(os.getpid(), "child", child.pid, flush=True)
end = time.time() + 20
while time.time() < end:
    y = y @ y; y = y / y.norm()
    torch.cuda.synchronize()
"""


def query(pynvml: object, name: str, *args: object) -> object:
    fn = getattr(pynvml, name, None)
    if fn is None:
        return "missing in this nvidia-ml-py"
    try:
        return fn(*args)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def main() -> None:
    import pynvml

    holder = None
    try:
        import torch  # noqa: F401

        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, "1024", "parent", HOLDER],
            stdout=subprocess.PIPE,
            text=True,
        )
        first_line = holder.stdout.readline().strip() if holder.stdout is not None else "?"
        print("holder pid (as this namespace sees it):", first_line)
        time.sleep(8)
    except ImportError:
        print("torch missing: no holder process")

    pynvml.nvmlInit()
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        for name in (
            "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetComputeRunningProcesses_v2",
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            result = query(pynvml, name, handle)
            if isinstance(result, list):
                rows = [
                    {
                        "pid": p.pid,
                        "usedGpuMemory": p.usedGpuMemory,
                        "exists_here": os.path.exists(f"/proc/{p.pid}"),
                        "cmd": _cmdline(p.pid),
                    }
                    for p in result
                ]
                print(name, rows)
            else:
                print(name, result)
        samples = query(pynvml, "nvmlDeviceGetProcessUtilization", handle, 0)
        if isinstance(samples, list):
            print(
                "nvmlDeviceGetProcessUtilization",
                [(s.pid, s.smUtil, s.memUtil, s.timeStamp) for s in samples],
            )
        else:
            print("nvmlDeviceGetProcessUtilization", samples)
        print("cgroup of this process:", _read(f"/proc/{os.getpid()}/cgroup"))
        print("NSpid of this process:", _status_line(os.getpid(), "NSpid"))
        labadvisor_view()
    finally:
        pynvml.nvmlShutdown()
        if holder is not None:
            holder.kill()


def labadvisor_view() -> None:
    """What labadvisor.gpu.processes() reports, as text and as the server's JSON rows."""
    try:
        from labadvisor import gpu
    except ImportError as exc:
        print("labadvisor not importable here:", exc)
        return
    found = gpu.processes()
    print("labadvisor.gpu.processes():")
    print(found)
    for process in found.processes:
        row = process.to_dict()
        print("  ", {k: row[k] for k in ("pid", "holder", "via_pid", "verified", "memory_used",
                                          "sm_utilization", "note")})  # fmt: skip
    unit = found.devices[0] if found.devices else None
    if unit is not None and unit.memory_total:
        print("make_room(all of GPU 0):", gpu.make_room(unit.memory_total, unit).text)


def _cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace("\0", " ")[:80]


def _status_line(pid: int, key: str) -> str:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip()
    return "?"


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


if __name__ == "__main__":
    main()
