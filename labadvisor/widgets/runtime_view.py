"""The runtime advisor panel: model, workload, hours, team, sensitivity → where to run."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.memory import MemoryEstimate
from labadvisor.options import Option, runtime_options
from labadvisor.runtime import RuntimeAdvice
from labadvisor.widgets._html import bar_html, error_html, esc, note_html
from labadvisor.widgets._view import AdvicePanel, dropdown, number_box, set_html, shown, style
from labadvisor.widgets.runtime_state import RuntimeState

GPU_OPTIONS: list[Option] = [
    ("detect this kernel's GPU", "auto"),
    ("no local GPU", None),
    ("local GPU, 8 GB free", 8.0),
    ("local GPU, 12 GB free", 12.0),
    ("local GPU, 16 GB free", 16.0),
    ("local GPU, 24 GB free", 24.0),
    ("local GPU, 48 GB free", 48.0),
    ("local GPU, 80 GB free", 80.0),
]
SIZE_MODE_OPTIONS: list[Option] = [
    ("Size (GB)", "size"),
    ("Parameters", "params"),
    ("Preset", "preset"),
]


class RuntimePanel(AdvicePanel):
    """Controls on the left, the advice on the right; every change re-advises at once.
    Below the advice: whether the model fits the local GPU, its inference memory, and the
    break-even plot, drawn in the background."""

    panel_title = "labadvisor runtime advisor"
    state: RuntimeState

    def __init__(self, state: RuntimeState | None = None, **inputs: Any) -> None:
        state = state if state is not None else RuntimeState(**inputs)
        options = runtime_options()
        limits = state.limits
        gpu_options = list(GPU_OPTIONS)
        if state.gpu not in [value for _, value in gpu_options]:
            gpu_options.append((f"given: {state.gpu!r}", state.gpu))
        controls: dict[str, w.ValueWidget] = {
            "size_mode": w.ToggleButtons(options=SIZE_MODE_OPTIONS, style=style()),
            "size_gb": number_box(limits["size_gb"], step=0.5),
            "params_b": number_box(limits["params_b"], step=0.5),
            "dtype": dropdown("dtype", options["dtype"]),
            "preset": dropdown("Preset", options["preset"]),
            "workload": dropdown("Workload", options["workload"]),
            "hours_per_day": number_box(limits["hours_per_day"], step=0.5),
            "team_size": number_box(limits["team_size"], whole=True),
            "sensitive": w.Checkbox(description="Sensitive code (must stay local)", indent=False),
            "gpu": dropdown("Local GPU", gpu_options),
        }
        self.fit = w.HTML()
        self.plot_status = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(width="512px"))
        super().__init__(state, controls, [self.fit, self.plot_status, self.plot])
        self._watch(state, self._show_fit, ["advice", "memory"])
        self._watch(state, self._show_plot, ["advice", "plot_png", "plot_error", "plot_pending"])
        self._watch(state, self._show_size_controls, ["size_mode"])
        self._show_fit()
        self._show_plot()
        self._show_size_controls()

    def _show_fit(self, _change: Any = None) -> None:
        advice = self.state.advice
        fit = "" if advice is None else _fit_html(advice) + _memory_html(self.state.memory)
        set_html(self.fit, fit)

    def _show_plot(self, _change: Any = None) -> None:
        state = self.state
        if state.plot_png is not None and self.plot.value != state.plot_png:
            self.plot.value = state.plot_png
        shown(self.plot, state.plot_png is not None and state.advice is not None)
        if state.plot_error:
            status = error_html(f"break-even plot failed: {state.plot_error}")
        elif state.advice is not None and state.plot_pending:
            status = note_html("⏳ drawing the break-even plot…")
        else:
            status = ""
        set_html(self.plot_status, status)

    def _show_size_controls(self, _change: Any = None) -> None:
        mode = self.state.size_mode
        self.show_field("size_gb", mode == "size")
        self.show_field("params_b", mode == "params")
        self.show_field("dtype", mode in ("params", "preset"))
        self.show_field("preset", mode == "preset")


def _fit_html(advice: RuntimeAdvice) -> str:
    gpu = advice.gpu
    if advice.fit_margin_gb is None:
        why = gpu.why if gpu is not None else "unknown"
        return f"<b>GPU fit</b>: not checked — {esc(why)}"
    free = (gpu.free_gb if gpu is not None else None) or 0.0
    needed = free - advice.fit_margin_gb
    fits = advice.fit_margin_gb >= 0
    colour = "#16a34a" if fits else "#b91c1c"
    verdict = "fits" if fits else "does not fit"
    return (
        f"<b>GPU fit</b>: {verdict}, margin <b style='color:{colour}'>"
        f"{advice.fit_margin_gb:+.1f} GB</b> (needs {needed:.1f} GB with headroom, "
        f"{free:.1f} GB free) {bar_html(needed / free if free else 1.0, colour=colour)}"
    )


def _memory_html(memory: MemoryEstimate | None) -> str:
    if memory is None:
        return ""
    kv = (
        "KV cache not counted"
        if memory.kv_cache_gb is None
        else f"KV cache {memory.kv_cache_gb:.2f}"
    )
    context = f" at {memory.context_tokens} tokens" if memory.context_tokens else ""
    return (
        f"<br><b>Inference memory</b>: {memory.total_gb:.1f} GB for {esc(memory.name)} in "
        f"{esc(memory.dtype)} (weights {memory.weights_gb:.2f} + {kv}{context} + overhead "
        f"{memory.overhead_gb:.2f})"
    )
