"""The runtime advisor panel: model, workload, hours, team, sensitivity → where to run."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.guides import models_data, offload_data
from labadvisor.widgets import _state as h
from labadvisor.widgets._view import PanelMixin, bind, set_html, shown, style, sync_value, wide
from labadvisor.widgets.runtime_state import RuntimeState, preset_names

GPU_OPTIONS: list[tuple[str, Any]] = [
    ("detect this kernel's GPU", "auto"),
    ("no local GPU", None),
    ("local GPU, 8 GB free", 8.0),
    ("local GPU, 12 GB free", 12.0),
    ("local GPU, 16 GB free", 16.0),
    ("local GPU, 24 GB free", 24.0),
    ("local GPU, 48 GB free", 48.0),
    ("local GPU, 80 GB free", 80.0),
]


class RuntimePanel(PanelMixin, w.VBox):
    """Controls on the left, the advice on the right; every change re-advises at once."""

    panel_title = "labadvisor runtime advisor"

    def __init__(self, state: RuntimeState | None = None, **inputs: Any) -> None:
        self.state = state if state is not None else RuntimeState(**inputs)
        i = self.state.inputs
        presets = preset_names()
        modes = [("Size (GB)", "size"), ("Parameters", "params"), ("Preset", "preset")]
        gpu_options = list(GPU_OPTIONS)
        if i["gpu"] not in [v for _, v in gpu_options]:
            gpu_options.append((f"given: {i['gpu']!r}", i["gpu"]))
        self.controls: dict[str, w.ValueWidget] = {
            "size_mode": w.ToggleButtons(options=modes, value=i["size_mode"], style=style()),
            "size_gb": w.BoundedFloatText(
                value=i["size_gb"],
                min=0,
                max=10_000,
                step=0.5,
                description="Model size (GB)",
                style=style(),
                layout=wide(),
            ),
            "params_b": w.BoundedFloatText(
                value=i["params_b"],
                min=0,
                max=10_000,
                step=0.5,
                description="Parameters (B)",
                style=style(),
                layout=wide(),
            ),
            "dtype": w.Dropdown(
                options=list(models_data()["dtypes"]),
                value=i["dtype"],
                description="dtype",
                style=style(),
                layout=wide(),
            ),
            "preset": w.Dropdown(
                options=presets,
                value=i["preset"] if i["preset"] in [v for _, v in presets] else None,
                description="Preset",
                style=style(),
                layout=wide(),
            ),
            "workload": w.Dropdown(
                options=[(e["label"], e["name"]) for e in offload_data()["workloads"]],
                value=i["workload"],
                description="Workload",
                style=style(),
                layout=wide(),
            ),
            "hours_per_day": w.FloatSlider(
                value=i["hours_per_day"],
                min=0,
                max=24,
                step=0.5,
                description="Offload hours/day",
                style=style(),
                layout=wide(),
            ),
            "team_size": w.BoundedIntText(
                value=i["team_size"],
                min=1,
                max=10_000,
                description="Team size",
                style=style(),
                layout=wide(),
            ),
            "sensitive": w.Checkbox(
                value=i["sensitive"],
                description="Sensitive code (must stay local)",
                indent=False,
            ),
            "gpu": w.Dropdown(
                options=gpu_options,
                value=i["gpu"],
                description="Local GPU",
                style=style(),
                layout=wide(),
            ),
        }
        self.choice = w.HTML()
        self.fit = w.HTML()
        self.reasons = w.HTML()
        self.warnings = w.HTML()
        self.costs = w.HTML()
        self.error = w.HTML()
        self.plot = w.Image(format="png", layout=w.Layout(width="512px"))
        self.plot_status = w.HTML()
        self._syncing = False
        results = w.VBox(
            [
                self.error,
                self.choice,
                self.fit,
                self.warnings,
                self.reasons,
                self.costs,
                self.plot_status,
                self.plot,
            ],
            layout=w.Layout(flex="1 1 420px", min_width="320px"),
        )
        inputs_box = w.VBox(list(self.controls.values()), layout=w.Layout(flex="0 0 340px"))
        super().__init__([w.HBox([inputs_box, results], layout=w.Layout(flex_flow="row wrap"))])
        bind(self.controls, self._on_input)
        self.state.observe(self._on_state)
        self.render()

    # input → state
    def _on_input(self, name: str, value: Any) -> None:
        if not self._syncing:
            self.state.set(**{name: value})

    # state → view
    def _on_state(self, what: str) -> None:
        if what == "plot":
            self._render_plot()
        else:
            self.render()

    def render(self) -> None:
        state, advice = self.state, self.state.advice
        self._sync_controls()
        set_html(self.error, h.error_html(state.error) if state.error else "")
        if advice is None:
            for part in (self.choice, self.fit, self.reasons, self.warnings, self.costs):
                set_html(part, "")
        else:
            set_html(self.choice, h.choice_html(advice.choice_label, advice.choice, "Run it on"))
            set_html(self.fit, _fit_html(advice) + _memory_html(state.memory))
            set_html(self.reasons, h.reasons_html(advice.reasons))
            set_html(self.warnings, h.warnings_html(advice.warnings))
            set_html(self.costs, f"<b>Costs</b>: {h.esc(str(advice.cost))}" if advice.cost else "")
        self._render_plot()

    def _render_plot(self) -> None:
        state = self.state
        if state.plot_png is not None and self.plot.value != state.plot_png:
            self.plot.value = state.plot_png
        shown(self.plot, state.plot_png is not None and state.advice is not None)
        if state.plot_error:
            status = h.error_html(f"break-even plot failed: {state.plot_error}")
        elif state.advice is not None and state.plot_pending:
            status = "<small style='opacity:.7'>⏳ drawing the break-even plot…</small>"
        else:
            status = ""
        set_html(self.plot_status, status)

    def _sync_controls(self) -> None:
        self._syncing = True
        try:
            for name, control in self.controls.items():
                sync_value(control, self.state.inputs[name])
        finally:
            self._syncing = False
        mode = self.state.inputs["size_mode"]
        shown(self.controls["size_gb"], mode == "size")
        shown(self.controls["params_b"], mode == "params")
        shown(self.controls["dtype"], mode in ("params", "preset"))
        shown(self.controls["preset"], mode == "preset")


def _fit_html(advice: Any) -> str:
    gpu = advice.gpu
    if advice.fit_margin_gb is None:
        why = gpu.why if gpu is not None else "unknown"
        return f"<b>GPU fit</b>: not checked — {h.esc(why)}"
    free = gpu.free_gb or 0.0
    needed = free - advice.fit_margin_gb
    fits = advice.fit_margin_gb >= 0
    colour = "#16a34a" if fits else "#b91c1c"
    verdict = "fits" if fits else "does not fit"
    return (
        f"<b>GPU fit</b>: {verdict}, margin <b style='color:{colour}'>"
        f"{advice.fit_margin_gb:+.1f} GB</b> (needs {needed:.1f} GB with headroom, "
        f"{free:.1f} GB free) {h.bar_html(needed / free if free else 1.0, colour=colour)}"
    )


def _memory_html(memory: Any) -> str:
    if memory is None:
        return ""
    kv = (
        "KV cache not counted"
        if memory.kv_cache_gb is None
        else f"KV cache {memory.kv_cache_gb:.2f}"
    )
    context = f" at {memory.context_tokens} tokens" if memory.context_tokens else ""
    return (
        f"<br><b>Inference memory</b>: {memory.total_gb:.1f} GB for {h.esc(memory.name)} in "
        f"{h.esc(memory.dtype)} (weights {memory.weights_gb:.2f} + {kv}{context} + overhead "
        f"{memory.overhead_gb:.2f})"
    )
