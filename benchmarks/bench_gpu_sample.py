"""How much CPU GPU sampling at 1 Hz costs, and what the detect() cache saves: a cached
report, and a report whose readings are taken again over the cached inventory.

    .venv/bin/python benchmarks/bench_gpu_sample.py [--seconds 5] [--fake]

Uses the real NVML when this machine has a GPU, else the fake NVML from tests/fake_nvml.py
(four GPUs, one in MIG mode with two instances), and says which. Prints ratios and percentages; it
asserts nothing (the tests hold the limits).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from labadvisor import gpu

TESTS_DIR = Path(__file__).resolve().parents[1] / "tests"


def choose_backend(force_fake: bool) -> str:
    real = gpu.detect(refresh=True)
    if real.ok and not force_fake:
        return f"real NVML ({len(real.devices)} GPU(s), driver {real.driver_version})"
    from fake_nvml import FakeNvml, a100_mig, l4, use_backend

    use_backend(FakeNvml([l4(0), l4(1), l4(2), a100_mig(3, instances=2)]))
    why = "--fake given" if force_fake else f"real NVML: {real.status}"
    return f"fake NVML from tests/fake_nvml.py: 4 GPUs, one in MIG mode ({why})"


def sampling_cost(seconds: float) -> tuple[float, int, float]:
    """CPU share of one core while sampling at 1 Hz, readings taken, CPU µs per reading."""
    sampler = gpu.Sampler()
    sampler.read()  # warm: first-call costs belong to detection, measured below
    count = max(2, round(seconds))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    readings = list(sampler.watch(interval=1.0, count=count))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    burst = 2000
    cpu1 = time.process_time()
    for _ in range(burst):
        sampler.read()
    per_read = (time.process_time() - cpu1) / burst
    return cpu / wall, len(readings), per_read * 1e6


def detect_cost() -> tuple[float, float, float]:
    """Mean seconds of a fresh detect(refresh=True), of a cached detect() and of a
    detect(max_age=0), which reads memory and utilization again over the cached inventory."""
    fresh_runs, cached_runs, reread_runs = 50, 20_000, 500
    start = time.perf_counter()
    for _ in range(fresh_runs):
        gpu.detect(refresh=True)
    fresh = (time.perf_counter() - start) / fresh_runs
    start = time.perf_counter()
    for _ in range(cached_runs):
        gpu.detect(max_age=60)
    cached = (time.perf_counter() - start) / cached_runs
    start = time.perf_counter()
    for _ in range(reread_runs):
        gpu.detect(max_age=0)
    reread = (time.perf_counter() - start) / reread_runs
    return fresh, cached, reread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the 1 Hz run")
    parser.add_argument("--fake", action="store_true", help="use the fake NVML even with a GPU")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS_DIR))  # for fake_nvml
    from fake_nvml import use_backend

    print(f"backend: {choose_backend(args.fake)}")
    share, readings, per_read_us = sampling_cost(args.seconds)
    print(
        f"sampling at 1 Hz: {readings} readings, {share:.4%} of one core "
        f"(limit 1%: {share / 0.01:.1%} of the budget); one reading costs {per_read_us:.1f} µs "
        f"of CPU = {per_read_us / 1e6:.4%} of a core at 1 Hz"
    )
    fresh, cached, reread = detect_cost()
    print(
        f"detect(): fresh {fresh * 1e6:.1f} µs, cached {cached * 1e6:.2f} µs; cached costs "
        f"{cached / fresh:.2%} of a fresh probe ({fresh / cached:.0f}x faster); "
        f"cached is {cached / 1e-3:.3%} of the 1 ms budget; fresh readings over the cached "
        f"inventory {reread * 1e6:.1f} µs ({reread / fresh:.1%} of a probe)"
    )
    use_backend(None)  # the real nvidia-ml-py again, nothing cached
    real_fresh, real_cached, real_reread = detect_cost()
    status = gpu.detect().status
    print(
        f"detect() through the real nvidia-ml-py here ({status}): fresh {real_fresh * 1e6:.1f} µs, "
        f"cached {real_cached * 1e6:.2f} µs ({real_cached / real_fresh:.2%} of fresh), "
        f"fresh readings {real_reread * 1e6:.1f} µs"
    )
    met = share < 0.01 and max(cached, real_cached) < 1e-3 and max(reread, real_reread) < 1e-3
    print(
        "targets met"
        if met
        else "TARGET MISSED: sampling >= 1% of a core, or cached or fresh readings >= 1 ms"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
