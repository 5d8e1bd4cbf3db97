"""The runtime advisor panel: the model, task, workload and setting → where to run.

Its inputs are advise_runtime's; under the advice it shows where the requirement fits (the
local GPU and Docker Offload's L4, the margins the advice computed) and the memory estimate
those fit checks used (``advice.memory``), then the break-even plot.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
from traitlets import HasTraits

from labadvisor.costs import CostComparison
from labadvisor.guides import offload_guide
from labadvisor.memory import find_preset
from labadvisor.options import Option, runtime_options
from labadvisor.runtime import RuntimeAdvice
from labadvisor.theme_colours import ERROR_TEXT, SUCCESS_TEXT
from labadvisor.widgets._html import bar_html, error_html, esc, note_html
from labadvisor.widgets._view import (
    AdvicePanel,
    described_image,
    dropdown,
    number_box,
    set_html,
    shown,
    style,
)
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
# The workload advise_runtime assumes when none is given, marked as assumed in the advice.
WORKLOAD_NOT_GIVEN: Option = ("not given (assumed from the task)", None)
# Inputs only a preset's known architecture turns into memory (KV cache, activations).
SHAPE_INPUTS = ("context_tokens", "batch_size")
FITS, DOES_NOT_FIT = SUCCESS_TEXT, ERROR_TEXT


class RuntimePanel(AdvicePanel):
    """Controls on the left, the advice on the right; every change re-advises at once.
    Below the advice: whether the requirement fits the local GPU and Docker Offload's L4
    (the advice's margins), the memory estimate those checks used (``advice.memory``), and
    the break-even plot, drawn in the background.

    In preset mode the context is the preset's full trained context while "Preset's full
    context" is ticked (``state.context_tokens`` None, as advise_runtime's default); untick
    it to type one."""

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
            "context_tokens": number_box(limits["context_tokens"], step=256, whole=True),
            "batch_size": number_box(limits["batch_size"], whole=True),
            "task": dropdown("Task", options["task"]),
            "workload": dropdown("Workload", [WORKLOAD_NOT_GIVEN, *options["workload"]]),
            "hours_per_day": number_box(limits["hours_per_day"], step=0.5),
            "team_size": number_box(limits["team_size"], whole=True),
            "sensitive": w.Checkbox(description="Sensitive code (must stay local)", indent=False),
            "offline": w.Checkbox(description="Offline (air-gapped)", indent=False),
            "interactive": w.Checkbox(
                description="Interactive (latency-sensitive completion)", indent=False
            ),
            "gpu": dropdown("Local GPU", gpu_options),
            "hardware": dropdown("Local option", options["hardware"]),
            "hardware_price": number_box(limits["hardware_price"], step=100),
            "amortize_months": number_box(limits["amortize_months"], whole=True),
            "storage_gb": number_box(limits["storage_gb"], step=10),
            "days": number_box(limits["days"]),
        }
        self.full_context = w.Checkbox(description="Preset's full context", indent=False)
        self._showing_context = False  # the state's context being shown: not a new input
        self.fit = w.HTML()
        self.costs = w.HTML()
        self.plot_status = w.HTML()
        self.plot = described_image(
            "Break-even plot: monthly cost of local and Docker Offload by hours a day"
        )
        super().__init__(state, controls, [self.fit, self.costs, self.plot_status, self.plot])
        context_row = self.rows["context_tokens"]
        context_row.children = (self.full_context, *context_row.children)
        controls["context_tokens"].observe(self._context_typed, names="value")
        self.full_context.observe(self._full_context_ticked, names="value")
        self._on_close(
            lambda: controls["context_tokens"].unobserve(self._context_typed, names="value")
        )
        self._on_close(
            lambda: self.full_context.unobserve(self._full_context_ticked, names="value")
        )
        self._watch(state, self._show_context, ["context_tokens", "preset"])
        self._watch(state, self._show_fit, ["advice"])
        self._watch(state, self._show_plot, ["advice", "plot_png", "plot_error", "plot_pending"])
        self._watch(state, self._show_size_controls, ["size_mode"])
        self._watch(state, self._show_costs, ["cost", "cost_error", "advice"])
        self._watch(state, self._show_purchase_controls, ["hardware"])
        self._show_context()
        self._show_fit()
        self._show_costs()
        self._show_plot()
        self._show_size_controls()
        self._show_purchase_controls()

    def _link(self, state: HasTraits, name: str, control: w.ValueWidget) -> None:
        # The context box shows None (the preset's full context) through its checkbox, which
        # a plain link cannot: _show_context and the two observers below keep them in step.
        if name != "context_tokens":
            super()._link(state, name, control)

    def _show_context(self, _change: Any = None) -> None:
        tokens = self.state.context_tokens
        box = self.controls["context_tokens"]
        full = _full_context(self.state.preset)
        self._showing_context = True
        try:
            self.full_context.value = tokens is None
            if tokens is not None:
                box.value = tokens
            elif full is not None:
                box.value = full
            box.disabled = tokens is None
            label = "Preset's full context"
            self.full_context.description = label + (f" ({full:,} tokens)" if full else "")
        finally:
            self._showing_context = False

    def _context_typed(self, change: Any) -> None:
        if not self._showing_context and not self.full_context.value:
            self.state.context_tokens = change["new"]

    def _full_context_ticked(self, change: Any) -> None:
        if not self._showing_context:
            typed = self.controls["context_tokens"].value
            self.state.context_tokens = None if change["new"] else typed

    def _show_fit(self, _change: Any = None) -> None:
        advice = self.state.advice
        set_html(self.fit, "" if advice is None else _fit_html(advice) + _memory_html(advice))

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

    def _show_costs(self, _change: Any = None) -> None:
        state = self.state
        if state.cost_error:
            markup = error_html(f"cost not computed: {state.cost_error}")
        elif state.cost is None or state.advice is None:
            markup = ""
        else:
            markup = _costs_html(state.cost, same_as_advice=_same_cost(state))
        set_html(self.costs, markup)

    def _show_purchase_controls(self, _change: Any = None) -> None:
        # A price and months to spread it over mean something for a GPU bought only.
        for name in self.state.purchase_inputs:
            self.show_field(name, self.state.hardware == "buy-gpu")

    def _show_size_controls(self, _change: Any = None) -> None:
        mode = self.state.size_mode
        self.show_field("size_gb", mode == "size")
        self.show_field("params_b", mode == "params")
        self.show_field("dtype", mode in ("params", "preset"))
        self.show_field("preset", mode == "preset")
        for name in SHAPE_INPUTS:
            self.show_field(name, mode == "preset")


def _fit_html(advice: RuntimeAdvice) -> str:
    """Where the requirement fits: the local GPU and Docker Offload's L4, with the margins
    the advice's own fit checks found."""
    estimate = advice.memory.total_gb if advice.memory is not None else advice.needed_gb
    headroom = (
        f" (the estimate below, {estimate:.1f} GB, plus headroom)"
        if advice.needed_gb > estimate
        else " (the estimate below)"
    )
    l4 = offload_guide().offload_gpu
    task = {value: label for label, value in runtime_options()["task"]}.get(
        advice.task, advice.task
    )
    offload = _fit_line(
        f"Docker Offload ({l4.name})",
        advice.offload_margin_gb,
        advice.needed_gb,
        f"{l4.memory_gb:g} GB",
    )
    return (
        f"<b>Fit</b>: needs {advice.needed_gb:.1f} GB for {esc(task)}{esc(headroom)}"
        f"<br>{_local_fit_html(advice)}<br>{offload}"
    )


def _local_fit_html(advice: RuntimeAdvice) -> str:
    gpu = advice.gpu
    if advice.fit_margin_gb is None:
        why = gpu.why if gpu is not None else "unknown"
        return f"<b>Local GPU</b>: not checked — {esc(why)}"
    free = (gpu.free_gb if gpu is not None else None) or 0.0
    return _fit_line("Local GPU", advice.fit_margin_gb, advice.needed_gb, f"{free:.1f} GB free")


def _fit_line(target: str, margin: float, needed: float, available: str) -> str:
    fits = margin >= 0
    colour = FITS if fits else DOES_NOT_FIT
    capacity = needed + margin
    return (
        f"<b>{esc(target)}</b>: {'fits' if fits else 'does not fit'}, margin "
        f"<b style='color:{colour}'>{margin:+.1f} GB</b> ({esc(available)}) "
        f"{bar_html(needed / capacity if capacity > 0 else 1.0, colour=colour)}"
    )


def _same_cost(state: RuntimeState) -> bool:
    """Whether the advice's own cost reason priced what the cost lines price."""
    cost = state.advice.cost if state.advice is not None else None
    return cost is not None and state.cost is not None and cost.to_dict() == state.cost.to_dict()


def _costs_html(cost: CostComparison, *, same_as_advice: bool) -> str:
    """The local option the advice compared against Docker Offload, per month: each side,
    the verdict, the break-even at the rate in use and across the guide's rate band."""
    low, high = cost.rate_band
    storage = (
        f" (incl. ${cost.storage_monthly:,.2f} for {cost.storage_gb:g} GB of storage)"
        if cost.storage_gb
        else ""
    )
    purchase = (
        f" (${cost.operating_monthly:,.2f} operating + ${cost.purchase_monthly:,.2f} of a "
        f"${cost.hardware_price:,.0f} GPU over {cost.amortize_months} months, each)"
        if cost.hardware == "buy-gpu" and cost.hardware_price is not None
        else ""
    )
    team = f" for {cost.team_size} people" if cost.team_size > 1 else ""
    rows = [
        ("Local option", f"{cost.local_label}: ${cost.local:,.2f}{purchase}"),
        ("Docker Offload", f"${cost.offload:,.2f} at ${cost.offload_rate:.2f}/h{storage}"),
        ("Verdict", cost.verdict),
        (f"Break-even at ${cost.offload_rate:.2f}/h", cost.breakeven_text),
        (f"Guide's ${low:.2f}-{high:.2f}/h", cost.band_text),
    ]
    lines = "".join(
        f"<tr><td style='padding-right:1em'><b>{esc(label)}</b></td><td>{esc(text)}</td></tr>"
        for label, text in rows
    )
    note = (
        ""
        if same_as_advice
        else note_html(
            "The advice's cost reason above uses the guide's price, months, storage and "
            "days; these lines use the ones given here."
        )
    )
    return (
        "<div class='labadvisor-panel-costs' style='margin-top:6px'>"
        f"<b>Cost per month</b> ({esc(f'{cost.hours_per_day:g} h/day over {cost.days:g} days')}"
        f"{esc(team)})<table>{lines}</table>{note}</div>"
    )


def _memory_html(advice: RuntimeAdvice) -> str:
    """The estimate every fit check of this advice used, as it renders itself."""
    if advice.memory is None:
        return ""
    return (
        "<div class='labadvisor-memory' style='margin-top:6px'>"
        "<b>Memory the fit checks used</b> <small style='opacity:.7'>(advice.memory)</small>"
        f"{advice.memory._repr_html_()}</div>"
    )


def _full_context(preset: str) -> int | None:
    """The preset's trained context length, or None when it has none or is unknown (the
    advice then names the bad preset)."""
    try:
        return find_preset(preset).context_length
    except ValueError:
        return None
