"""Decision-engine speed, measured side by side in one run.

Prints: the import cost of labadvisor relative to pandas (fresh interpreters, median of
several), the time of one advise_runtime call, and the time of a 1,000,000-scenario sweep.
Run: .venv/bin/python benchmarks/bench_engine.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def import_seconds(module: str, repeats: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return statistics.median(runs)


def main() -> int:
    ours = import_seconds("labadvisor")
    pandas = import_seconds("pandas")
    print(f"import labadvisor: {ours * 1e3:8.1f} ms")
    print(f"import pandas:     {pandas * 1e3:8.1f} ms")
    print(f"ratio labadvisor/pandas: {ours / pandas:.3f}  (target: well under 1)")

    import numpy as np

    import labadvisor

    labadvisor.advise_runtime(13, gpu=None)  # first call loads the guide data
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        labadvisor.advise_runtime(13, workload="code-generation", gpu=24, hours_per_day=6)
    per_call = (time.perf_counter() - start) / n
    print(f"advise_runtime: {per_call * 1e6:8.1f} µs per call")

    start = time.perf_counter()
    df = labadvisor.sweep(
        np.linspace(0, 24, 100), offload_rate=np.linspace(0.5, 2, 100), team_size=range(1, 101)
    )
    cost_sweep = time.perf_counter() - start
    print(f"sweep of {len(df):,} cost scenarios: {cost_sweep:.3f} s  (target: < 1 s)")
    start = time.perf_counter()
    df = labadvisor.sweep(
        np.linspace(0, 24, 25),
        offload_rate=np.linspace(0.5, 2, 4),
        model_size_gb=np.linspace(0, 40, 834),  # 1,000,800 scenarios
        gpu=[None, 8, 24, 80],
        workload=["completion", "code-review", "documentation"],
    )
    elapsed = time.perf_counter() - start
    print(f"sweep of {len(df):,} advice scenarios: {elapsed:.3f} s  (target: < 1 s)")
    print(f"advise_runtime calls the same time would buy: {elapsed / per_call:,.0f}")
    missed = [
        what
        for what, ok in (
            ("import labadvisor slower than import pandas", ours < pandas),
            ("cost sweep over 1 s", cost_sweep < 1.0),
            ("advice sweep over 1 s", elapsed < 1.0),
        )
        if not ok
    ]
    print("targets met" if not missed else "TARGET MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
