"""State of the runtime advisor panel: the inputs, the advice they give, and the plot."""

from __future__ import annotations

from concurrent.futures import Future
from functools import partial
from typing import Any, ClassVar

from traitlets import Any as AnyTrait
from traitlets import Bool, Bytes, Enum, Float, Instance, Int, Unicode, default

from labadvisor.costs import CostComparison, cost_defaults, monthly_costs
from labadvisor.guides import offload_guide
from labadvisor.runtime import RuntimeAdvice, advise_runtime
from labadvisor.widgets._jobs import BackgroundJobs
from labadvisor.widgets._plot import PlotCache, PlotKey, plot_key, render_breakeven_png
from labadvisor.widgets._state import AdviceState, FieldRange, guide_value, problem

SIZE_MODES = ("size", "params", "preset")
PLOT_THREAD = "labadvisor-plot"


class RuntimeState(AdviceState):
    """Inputs of :func:`labadvisor.advise_runtime` and the advice they give.

    The model is known by its size (``size_mode="size"``: ``size_gb``), by its parameters
    (``"params"``: ``params_b`` and ``dtype``) or by a preset (``"preset"``: ``preset``,
    ``dtype``, and ``context_tokens`` and ``batch_size``, which only a known architecture
    turns into a KV cache or activations; ``context_tokens=None`` is the preset's full
    trained context, as in the API). ``task``, ``workload`` (None: assumed from the task, and
    marked so), ``offline``, ``interactive`` and ``hardware`` are advise_runtime's own.
    ``hardware_price`` and ``amortize_months`` (for ``hardware="buy-gpu"`` only),
    ``storage_gb`` and ``days`` complete the cost: ``cost`` is :func:`labadvisor.monthly_costs`
    for the local option the advice compared, with every cost input (``cost_error`` when it
    cannot be computed). The memory the fit
    checks used is the advice's (``advice.memory``); the state computes none of its own.
    Typed numbers outside ``limits`` are kept and reported in ``field_errors`` (see
    :class:`~labadvisor.widgets._state.AdviceState`). The break-even plot is drawn in the
    background: ``plot_png`` follows the inputs a moment later, ``plot_pending`` is True
    meanwhile.
    """

    subject = "runtime"
    input_names = (
        "size_mode",
        "size_gb",
        "params_b",
        "dtype",
        "preset",
        "context_tokens",
        "batch_size",
        "task",
        "workload",
        "hours_per_day",
        "team_size",
        "sensitive",
        "offline",
        "interactive",
        "gpu",
        "hardware",
        "hardware_price",
        "amortize_months",
        "storage_gb",
        "days",
    )

    limits: ClassVar[dict[str, FieldRange]] = {
        "size_gb": FieldRange("Model size (GB)", 0, 10_000),
        "params_b": FieldRange("Parameters (B)", 0, 10_000, strict_minimum=True),
        "context_tokens": FieldRange("Context (tokens)", 0, 10_000_000),
        "batch_size": FieldRange("Batch size", 1, 10_000),
        "hours_per_day": FieldRange("Offload hours/day", 0, 24),
        "team_size": FieldRange("Team size", 1, 10_000),
        "hardware_price": FieldRange("GPU price (USD)", 0, 1_000_000),
        "amortize_months": FieldRange("Spread over (months)", 1, 240),
        "storage_gb": FieldRange("Offload storage (GB)", 0, 1_000_000),
        "days": FieldRange("Days per month", 0, 31, strict_minimum=True),
    }
    # What only a GPU bought costs: checked, and passed, for hardware="buy-gpu" only.
    purchase_inputs: ClassVar[tuple[str, ...]] = ("hardware_price", "amortize_months")

    size_mode = Enum(SIZE_MODES, default_value="size")
    size_gb = Float(13.0)
    params_b = Float(7.0)
    dtype = Unicode("fp16")
    preset = Unicode("llama-2-7b")
    context_tokens = Int(None, allow_none=True)
    batch_size = Int(1)
    task = Unicode("inference")
    workload = Unicode(None, allow_none=True)
    hours_per_day = Float(6.0)
    team_size = Int(1)
    sensitive = Bool(False)
    offline = Bool(False)
    interactive = Bool(False)
    # "auto" (detect this kernel's GPU), None/False (none), True, or its free memory in GB:
    # advise_runtime judges the value and names the valid ones.
    gpu = AnyTrait("auto", allow_none=True)
    # What "local" costs: None follows the GPU found (an owned GPU, else this machine's CPU),
    # as advise_runtime does; "owned-gpu", "buy-gpu" or "cpu-only" otherwise.
    hardware = Unicode(None, allow_none=True)
    # The guide's by default (None only while the guide cannot be read).
    hardware_price = Float(None, allow_none=True)
    amortize_months = Int(None, allow_none=True)
    storage_gb = Float(0.0)
    days = Float(None, allow_none=True)

    advice = Instance(RuntimeAdvice, allow_none=True)
    # The advice's local option priced with every cost input above (monthly_costs); the
    # advice's own cost reason uses the guide's price, storage and days.
    cost = Instance(CostComparison, allow_none=True)
    cost_error = Unicode(None, allow_none=True)
    plot_png = Bytes(None, allow_none=True)
    plot_error = Unicode(None, allow_none=True)
    # True while the plot shown is for older inputs and a new one is being drawn.
    plot_pending = Bool(False)

    def __init__(self, *, plot: bool = True, **inputs: Any) -> None:
        self._plot_jobs: BackgroundJobs | None = None
        self._plot_cache = PlotCache()
        self._plot_key: PlotKey | None = None
        if plot:
            # Not a daemon: interpreter exit waits for the render in progress (well under a
            # second) instead of killing matplotlib's C++ code mid-draw.
            self._plot_jobs = BackgroundJobs(PLOT_THREAD, daemon=False)
            # Import matplotlib here, on the caller's thread: an import racing in the worker
            # exposes half-initialised numpy/matplotlib modules to code on the main thread.
            import labadvisor.plots  # noqa: F401
        super().__init__(**inputs)

    @default("hardware_price")
    def _guide_hardware_price(self) -> float | None:
        return guide_value(lambda: offload_guide().costs.hardware_total.approx)

    @default("amortize_months")
    def _guide_amortize_months(self) -> int | None:
        return guide_value(lambda: offload_guide().costs.purchase.amortize_months)

    @default("days")
    def _guide_days(self) -> float | None:
        return guide_value(lambda: cost_defaults().days)

    def current_advice(self) -> RuntimeAdvice | None:
        return self.advice

    def cost_arguments(self) -> dict[str, Any]:
        """The keyword arguments of monthly_costs (and plots.breakeven) these inputs mean,
        for the local option the advice compared (``advice.inputs["hardware"]``)."""
        return self._cost_arguments(self.advice)

    def _cost_arguments(self, advice: RuntimeAdvice | None) -> dict[str, Any]:
        hardware = advice.inputs["hardware"] if advice is not None else self.hardware
        kwargs: dict[str, Any] = {
            "hours_per_day": self.hours_per_day,
            "team_size": self.team_size,
            "hardware": hardware or "owned-gpu",
            "storage_gb": self.storage_gb,
            "days": self.days,
        }
        if kwargs["hardware"] == "buy-gpu":
            kwargs.update(hardware_price=self.hardware_price, amortize_months=self.amortize_months)
        return kwargs

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments for advise_runtime these inputs mean."""
        kwargs: dict[str, Any] = {
            "task": self.task,
            "workload": self.workload,
            "gpu": self.gpu,
            "hours_per_day": self.hours_per_day,
            "team_size": self.team_size,
            "sensitive": self.sensitive,
            "offline": self.offline,
            "interactive": self.interactive,
            "hardware": self.hardware,
        }
        if self.size_mode == "params":
            kwargs.update(params_b=self.params_b, dtype=self.dtype)
            return (), kwargs
        if self.size_mode == "preset":
            kwargs.update(
                preset=self.preset,
                dtype=self.dtype,
                context_tokens=self.context_tokens,
                batch_size=self.batch_size,
            )
            return (), kwargs
        return (self.size_gb,), kwargs

    def plot_params(self) -> dict[str, Any]:
        """plots.breakeven's arguments: the cost inputs, with the hours marked."""
        return self.cost_arguments()

    def ranged_inputs(self) -> tuple[str, ...]:
        # Only a preset has the shape that context and batch size act on; a context of None
        # (the preset's full one) has no range to check.
        shape = ("context_tokens", "batch_size")
        unused = {"size": ("params_b", *shape), "params": ("size_gb", *shape)}.get(
            self.size_mode, ("size_gb", "params_b")
        )
        if self.context_tokens is None:
            unused = (*unused, "context_tokens")
        if self.hardware != "buy-gpu":  # None follows the GPU found: never a purchase
            unused = (*unused, *self.purchase_inputs)
        return tuple(name for name in self.limits if name not in unused)

    def wait_for_plot(self, timeout: float = 10.0) -> bool:
        return True if self._plot_jobs is None else self._plot_jobs.wait(timeout)

    def _update_advice(self) -> None:
        advice: RuntimeAdvice | None = None
        error: str | None = None
        try:
            args, kwargs = self.arguments()
            advice = advise_runtime(*args, **kwargs)
        except (ValueError, OSError) as exc:
            advice, error = None, problem(exc)
        cost: CostComparison | None = None
        cost_error: str | None = None
        if advice is not None:
            try:
                cost = monthly_costs(**self._cost_arguments(advice))
            except ValueError as exc:
                cost_error = str(exc)
        if cost is not None:  # the guide's values where the state held None
            self._keep_canonical(days=float(cost.days))
            if cost.hardware_price is not None:
                self._keep_canonical(
                    hardware_price=cost.hardware_price, amortize_months=cost.amortize_months
                )
        with self.hold_trait_notifications():
            self.error, self.advice = error, advice
            self.cost, self.cost_error = cost, cost_error
        self._request_plot()

    def _request_plot(self) -> None:
        if self._plot_jobs is None or self.advice is None:
            return
        params = self.plot_params()
        key = plot_key(params)
        if key == self._plot_key:
            return  # shown already, or on its way
        self._plot_key = key
        png = self._plot_cache.get(key)
        if png is not None:
            self._show_plot(png, None)
            return
        self.plot_pending = True
        self._plot_jobs.submit(
            "drawing the break-even plot",
            partial(self._draw, key, params),
            group="plot",
            on_done=partial(self._drawn, key),
        )

    def _draw(self, key: PlotKey, params: dict[str, Any]) -> bytes:
        png = render_breakeven_png(params)
        self._plot_cache.put(key, png)
        return png

    def _drawn(self, key: PlotKey, future: Future[bytes]) -> None:
        if key != self._plot_key:
            return  # the inputs moved on to a plot from the cache meanwhile
        error = future.exception()
        if error is not None:  # a bad override must not fail silently
            self._show_plot(None, f"{type(error).__name__}: {error}")
        else:
            self._show_plot(future.result(), None)

    def _show_plot(self, png: bytes | None, error: str | None) -> None:
        with self.hold_trait_notifications():
            if png is not None:
                self.plot_png = png
            self.plot_error, self.plot_pending = error, False
