"""How long a panel takes to update after an input changes (budget: 50 ms of Python time).

Each panel is driven as a user drives it, by setting a control's value; the time is from the
assignment until every observer has run and the panel has re-rendered. Widgets talk to a
comm that serialises every message to JSON, as a kernel does, so that cost is counted too.
Slow work that panels hand to background threads (the break-even plot, engine pings) is
timed separately and is not part of the update.

Needs no GPU and no Docker engine: the GPU panel reads a fake NVIDIA L4 (tests/fake_nvml.py),
the context panel a throw-away DOCKER_CONFIG, the usage tab a throw-away ledger.
Run: .venv/bin/python benchmarks/bench_widgets.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BUDGET_S = 0.050
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def serialising_comms() -> dict[str, int]:
    """Make every widget comm JSON-encode what it would send; returns a byte counter."""
    import comm
    from comm.base_comm import BaseComm

    sent = {"messages": 0, "bytes": 0}

    class SerialisingComm(BaseComm):
        def publish_msg(
            self,
            msg_type: str,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[bytes] | None = None,
            **keys: Any,
        ) -> None:
            payload = json.dumps({"data": data, "metadata": metadata}, default=str)
            sent["messages"] += 1
            sent["bytes"] += len(payload)

    comm.create_comm = lambda *args, **kwargs: SerialisingComm(*args, **kwargs)
    return sent


def measure(label: str, actions: Sequence[Callable[[], object]], rows: list[tuple]) -> None:
    times = []
    for action in actions:
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    rows.append((label, len(times), statistics.median(times), p95, times[-1]))


def picker(control: Any, label: str) -> Callable[[], None]:
    """Choose a dropdown option by the label a person sees."""

    def run() -> None:
        control.label = label

    return run


def setter(control: Any, value: Any) -> Callable[[], None]:
    def run() -> None:
        control.value = value

    return run


def cycle(control: Any, values: list[Any], n: int) -> list[Callable[[], None]]:
    return [setter(control, values[i % len(values)]) for i in range(n)]


def main() -> int:
    sent = serialising_comms()
    rows: list[tuple] = []
    background: list[tuple[str, float]] = []

    # --- runtime panel
    from labadvisor.widgets.runtime_view import RuntimePanel

    start = time.perf_counter()
    runtime = RuntimePanel(gpu=None)
    build_runtime = time.perf_counter() - start
    runtime.state.wait_for_plot(60)
    c = runtime.controls
    measure("runtime: model size", cycle(c["size_gb"], [0.5, 3, 13, 30], 60), rows)
    measure(
        "runtime: workload",
        cycle(c["workload"], ["code-generation", "testing", "code-review"], 60),
        rows,
    )
    measure("runtime: sensitive", cycle(c["sensitive"], [True, False], 40), rows)
    gpu_labels = [
        "local GPU, 8 GB free",
        "local GPU, 16 GB free",
        "local GPU, 24 GB free",
        "no local GPU",
    ]
    measure(
        "runtime: GPU free memory",
        [picker(c["gpu"], gpu_labels[i % len(gpu_labels)]) for i in range(40)],
        rows,
    )
    c["size_mode"].value = "preset"
    measure(
        "runtime: preset",
        cycle(c["preset"], ["llama-2-7b", "codellama-34b", "gpt2-small"], 45),
        rows,
    )
    # Hours change the plot: the update shows the cached or pending plot at once.
    measure("runtime: hours/day (plot async)", cycle(c["hours_per_day"], [1, 4, 6, 9], 40), rows)
    runtime.state.wait_for_plot(60)
    from labadvisor.widgets._plot import render_breakeven_png

    renders = []
    for hours in (2.5, 7.5, 11.5):
        start = time.perf_counter()
        render_breakeven_png({"team_size": 3, "hours_per_day": hours})
        renders.append(time.perf_counter() - start)
    background.append(("break-even plot render (background thread)", statistics.median(renders)))

    # --- deployment panel
    from labadvisor.options import deployment_options
    from labadvisor.widgets.deployment_view import DeploymentPanel

    deployment = DeploymentPanel()
    nothing, compose, k3s = (label for label, _ in deployment_options()["current"])
    platforms = [compose, nothing, k3s, nothing]
    d = deployment.controls
    measure("deployment: users", cycle(d["users"], [10, 30, 60, 120], 60), rows)
    measure(
        "deployment: current platform (migration)",
        [picker(d["current"], platforms[i % len(platforms)]) for i in range(40)],
        rows,
    )
    d["users"].value, d["current"].value = 80, "docker-compose"
    boxes = list(deployment.checklist_boxes.values())
    measure(
        "deployment: tick a checklist item",
        [setter(boxes[i % len(boxes)], (i // len(boxes)) % 2 == 0) for i in range(36)],
        rows,
    )

    # --- GPU panel (fake L4)
    from fake_nvml import FakeGpu, FakeNvml, FakeProcess, use_backend

    from labadvisor.widgets.gpu_view import GpuPanel

    # Holders too: this process and 20 pids of another PID namespace (read each tick).
    foreign = [FakeProcess(4_000_000 + n, (n + 1) * 2**27) for n in range(20)]
    fake = FakeNvml([FakeGpu(processes=[FakeProcess(os.getpid(), 2**31), *foreign])])
    use_backend(fake)
    panel = GpuPanel()

    def one_sample(i: int) -> Callable[[], None]:
        def run() -> None:
            fake.gpus[0].utilization = (i * 7 % 100, i * 3 % 100)
            panel.state.sample_once()

        return run

    measure("gpu: one live reading", [one_sample(i) for i in range(60)], rows)
    measure("gpu: holders of GPU memory (21)", [panel.state.read_holders for _ in range(60)], rows)
    measure("gpu: detect again", [panel.state.refresh for _ in range(20)], rows)
    panel.close()
    use_backend(None)

    # --- usage tab (a year of per-minute samples for one GPU; read and chart in background)
    from labadvisor.usage import Batch, GpuReading, Sample, SqliteLedger
    from labadvisor.widgets.usage_view import UsagePanel

    with tempfile.TemporaryDirectory(prefix="la-bench-usage-") as tmp:
        ledger_file = Path(tmp) / "usage.sqlite3"
        now = time.time()
        with SqliteLedger(ledger_file) as ledger:
            first = int(now) - 365 * 86400
            for day in range(365):
                ticks = range(first + day * 86400, first + day * 86400 + 8 * 3600, 60)
                gpu = (GpuReading("GPU 0", 60.0, 10**9, 10**10),)
                ledger.write(Batch(tuple(Sample(t, 60.0, "b", "h", gpu, ()) for t in ticks)))
        usage = UsagePanel(path=ledger_file, days=30)
        usage.state.wait(60)
        choices = [7, 90, 365, 30]
        measure(
            "usage: days selector (read async)",
            [setter(usage.days, choices[i % len(choices)]) for i in range(20)],
            rows,
        )
        usage.state.wait(60)
        reads = []
        for days in (30, 365):
            usage.days.value = days
            usage.state.wait(60)
            start = time.perf_counter()
            usage.state.refresh()
            usage.state.wait(60)
            reads.append((days, time.perf_counter() - start))
        for days, seconds in reads:
            background.append((f"usage read + chart, {days} days (background thread)", seconds))
        usage.close()

    # --- Docker context panel (sandbox store, no engine)
    with tempfile.TemporaryDirectory(prefix="la-bench-") as tmp:
        config = Path(tmp) / "docker"
        for name in ("cloud-a", "cloud-b"):
            meta = config / "contexts" / "meta" / _sha(name)
            meta.mkdir(parents=True)
            (meta / "meta.json").write_text(
                json.dumps(
                    {
                        "Name": name,
                        "Metadata": {},
                        "Endpoints": {"docker": {"Host": f"unix://{tmp}/{name}.sock"}},
                    }
                )
            )
        os.environ["DOCKER_CONFIG"] = str(config)
        os.environ["DOCKER_HOST"] = f"unix://{tmp}/none.sock"
        os.environ.pop("DOCKER_CONTEXT", None)
        from labadvisor.contexts import kernel_env
        from labadvisor.widgets.context_view import ContextPanel

        saved = kernel_env.snapshot()
        ctx = ContextPanel(check_engine=False, check_offload=False)

        switches = []
        for i in range(20):
            target = ("cloud-a", "cloud-b")[i % 2]
            start = time.perf_counter()
            ctx.other.value = target
            switches.append(time.perf_counter() - start)
            ctx.state.wait(10)
            # The checked switch fails (no engine); switch unchecked so the next one moves.
            ctx.state.switch(target, check=False)
            ctx.state.wait(10)
        switches.sort()
        rows.append(
            (
                "context: choose a context (check async)",
                len(switches),
                statistics.median(switches),
                switches[round(0.95 * (len(switches) - 1))],
                switches[-1],
            )
        )
        measure("context: re-read store and render", [ctx.state.reload for _ in range(40)], rows)
        ctx.close()
        kernel_env.restore(saved)

    # --- report
    width = max(len(r[0]) for r in rows)
    print(f"{'panel update':<{width}}  {'n':>4}  {'median':>9}  {'p95':>9}  {'max':>9}")
    over = 0
    for label, n, median, p95, worst in rows:
        flag = "" if p95 < BUDGET_S else "  OVER BUDGET"
        over += bool(flag)
        print(
            f"{label:<{width}}  {n:>4}  {median * 1e3:7.2f} ms  {p95 * 1e3:7.2f} ms  "
            f"{worst * 1e3:7.2f} ms{flag}"
        )
    print(f"\nbudget: p95 under {BUDGET_S * 1e3:.0f} ms of Python time per update")
    print(f"runtime panel built in {build_runtime * 1e3:.0f} ms (first build imports matplotlib)")
    for label, seconds in background:
        print(f"{label}: {seconds * 1e3:.0f} ms (not part of an update)")
    print(f"comm traffic: {sent['messages']} messages, {sent['bytes'] / 1e6:.2f} MB serialised")
    return 1 if over else 0


def _sha(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
