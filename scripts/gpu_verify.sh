#!/usr/bin/env bash
# Run on a machine with an NVIDIA GPU (the device tool's machine, or any GPU workstation):
# the gpu-marked tests, the sampling benchmark, and two probes that record what the driver
# itself does, for docs/gpu-verification.md. Needs python3 with pynvml and pytest; torch is
# optional (used to hold GPU memory and to compare CUDA's own device count).
#   bash scripts/gpu_verify.sh [OUTPUT_DIR]
set -u
out=${1:-${OUT:-/tmp}}
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD:$PWD/tests PYTHONUNBUFFERED=1
{
  echo "== $(date -u +%FT%TZ) $(uname -m)"
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total,mig.mode.current --format=csv
  python3 --version
  python3 -c 'import pynvml, importlib.metadata as m; print("nvidia-ml-py", m.version("nvidia-ml-py"))'

  echo "== gpu-marked tests"
  python3 -m pytest -p no:cacheprovider --noconftest -p gpu_fixtures -m gpu -v -s tests/test_gpu*.py

  # (no dockerd on a GPU machine lent for this: the docker-marked tests run under make test)
  echo "== every GPU test file (the fake-NVML tests too, on this machine's Python)"
  python3 -m pytest -p no:cacheprovider --noconftest -p gpu_fixtures -q -m "not docker" \
    tests/test_gpu_*.py

  echo "== sampling benchmark"
  python3 benchmarks/bench_gpu_sample.py --seconds 5

  echo "== per-process attribution benchmark"
  python3 benchmarks/bench_gpu_processes.py

  echo "== CUDA_VISIBLE_DEVICES as the CUDA driver reads it (cuInit + cuDeviceGetCount)"
  python3 scripts/cuda_visibility_probe.py

  echo "== NVML per-process view of a process holding GPU memory"
  python3 scripts/nvml_process_probe.py
} 2>&1 | tee "$out/gpu-verify.log"
