"""Print how many devices the CUDA driver gives a process for each CUDA_VISIBLE_DEVICES value.

Each value runs in a fresh process, because the driver reads the variable once, in cuInit.
Only libcuda (the driver) is needed; where torch is installed its count is printed beside it.
Beside each, labadvisor's own reading of the variable, so the two can be compared.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = r"""
import ctypes, json, sys
cuda = ctypes.CDLL("libcuda.so.1")
count = ctypes.c_int(-1)
rc = cuda.cuInit(0)
if rc == 0:
    rc = cuda.cuDeviceGetCount(ctypes.byref(count))
uuids = []
for i in range(max(count.value, 0)):
    dev = ctypes.c_int()
    cuda.cuDeviceGet(ctypes.byref(dev), i)
    raw = (ctypes.c_ubyte * 16)()
    cuda.cuDeviceGetUuid(raw, dev)
    uuids.append(bytes(raw).hex()[:8])
torch_count = None
try:
    import torch
    torch_count = torch.cuda.device_count()
except Exception as exc:  # torch missing or CUDA error: record what it said
    torch_count = repr(exc)[:80]
print(json.dumps({"rc": rc, "count": count.value, "uuid8": uuids, "torch": torch_count}))
"""


def first_uuid() -> str:
    import pynvml

    pynvml.nvmlInit()
    try:
        uuid = pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(0))
        return uuid.decode() if isinstance(uuid, bytes) else uuid
    finally:
        pynvml.nvmlShutdown()


def labadvisor_reading(value: str) -> object:
    try:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=value)
        code = (
            "from labadvisor import gpu; r = gpu.detect(refresh=True); "
            "print(r.status, [d.index for d in r.devices])"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        return (done.stdout or done.stderr).strip().splitlines()[-1]
    except Exception as exc:
        return repr(exc)


def main() -> None:
    uuid = first_uuid()
    values = [
        "0",
        "",
        "0,0",
        "0,0,1",
        "1,0",
        "1gpu2",
        "0x1",
        "0gpu",
        "00",
        "+0",
        " 0",
        "-1",
        "0,-1,1",
        "none",
        uuid,
        uuid[:12],
        f"{uuid},0",
        f"{uuid},{uuid}",
        f"0,{uuid}",
        f"{uuid},foo,0",
    ]
    print(f"driver sees GPU 0 as {uuid}")
    for value in values:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=value)
        done = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
        )
        result = done.stdout.strip() or done.stderr.strip()[-200:]
        ours = labadvisor_reading(value)
        print(f"CUDA_VISIBLE_DEVICES={value!r:<52} cuda={result}  labadvisor={ours}")


if __name__ == "__main__":
    main()
