"""Start a process that holds GPU memory (and a child of it that does too), then print what
NVML's per-process queries report about them, for the per-process attribution work.

Needs torch with CUDA for the holders; without it only the queries' availability is printed.
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
        print("holder pid (as this namespace sees it):", holder.stdout.readline().strip())
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
    finally:
        pynvml.nvmlShutdown()
        if holder is not None:
            holder.kill()


def _cmdline(pid: int) -> str:
    return _read(f"/proc/{pid}/cmdline").replace("\0", " ")[:80]


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


if __name__ == "__main__":
    main()
