"""State of the runtime advisor panel: the inputs, the advice they give, and the plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labadvisor.runtime import RuntimeAdvice, advise_runtime
from labadvisor.widgets._plot import PlotKey, PlotRenderer, plot_key
from labadvisor.widgets._state import Observable

if TYPE_CHECKING:
    from labadvisor.memory import MemoryEstimate

SIZE_MODES = ("size", "params", "preset")

_DEFAULTS: dict[str, Any] = {
    "size_mode": "size",
    "size_gb": 13.0,
    "params_b": 7.0,
    "dtype": "fp16",
    "preset": "llama-2-7b",
    "workload": "code-completion",
    "hours_per_day": 6.0,
    "team_size": 1,
    "sensitive": False,
    "gpu": "auto",
}


class RuntimeState(Observable):
    """Inputs of :func:`labadvisor.advise_runtime` and the advice they give.

    ``set(**changes)`` recomputes at once and tells observers "advice"; a bad value keeps
    the change, clears ``advice`` and puts the library's message in ``error``. The break-even
    plot is drawn in the background (``plot_png``, observers told "plot").
    """

    def __init__(self, *, plot: bool = True, **inputs: Any) -> None:
        super().__init__()
        self.inputs: dict[str, Any] = dict(_DEFAULTS)
        self.advice: RuntimeAdvice | None = None
        self.error: str | None = None
        # Inference memory (weights + KV cache + overhead) when the model is known by its
        # parameters or a preset; advise_runtime itself only weighs the weights.
        self.memory: MemoryEstimate | None = None
        self.plot_png: bytes | None = None
        self.plot_error: str | None = None
        # True while the plot shown is for older inputs and a new one is being drawn.
        self.plot_pending = False
        self._plot_key: PlotKey | None = None
        self._renderer = PlotRenderer(self._plot_ready) if plot else None
        self._check_names(inputs)
        self.inputs.update(inputs)
        self._recompute()

    def __getattr__(self, name: str) -> Any:
        inputs = self.__dict__.get("inputs")
        if inputs is not None and name in inputs:
            return inputs[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def set(self, **changes: Any) -> None:
        self._check_names(changes)
        if all(self.inputs.get(k) == v for k, v in changes.items()) and self.advice is not None:
            return
        self.inputs.update(changes)
        self._recompute()
        self._notify("advice")

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments for advise_runtime these inputs mean."""
        i = self.inputs
        kwargs: dict[str, Any] = {
            "workload": i["workload"],
            "gpu": i["gpu"],
            "hours_per_day": i["hours_per_day"],
            "team_size": i["team_size"],
            "sensitive": i["sensitive"],
        }
        mode = i["size_mode"]
        if mode == "params":
            kwargs.update(params_b=i["params_b"], dtype=i["dtype"])
            return (), kwargs
        if mode == "preset":
            from labadvisor.memory import find_preset

            kwargs.update(params_b=find_preset(i["preset"]).params_b, dtype=i["dtype"])
            return (), kwargs
        return (i["size_gb"],), kwargs

    def plot_params(self) -> dict[str, Any]:
        return {
            "team_size": self.inputs["team_size"],
            "hours_per_day": self.inputs["hours_per_day"],
        }

    def wait_for_plot(self, timeout: float = 10.0) -> bool:
        return True if self._renderer is None else self._renderer.wait(timeout)

    def _check_names(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(_DEFAULTS)
        if unknown:
            raise ValueError(
                f"unknown runtime input(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(_DEFAULTS)}"
            )
        mode = changes.get("size_mode", self.inputs["size_mode"])
        if mode not in SIZE_MODES:
            raise ValueError(f"size_mode must be one of {', '.join(SIZE_MODES)}, got {mode!r}")

    def _recompute(self) -> None:
        self.memory = None
        try:
            args, kwargs = self.arguments()
            self.advice = advise_runtime(*args, **kwargs)
            self.error = None
            mode = self.inputs["size_mode"]
            if mode in ("params", "preset"):
                from labadvisor.memory import estimate_memory

                self.memory = estimate_memory(
                    kwargs["params_b"] if mode == "params" else None,
                    preset=self.inputs["preset"] if mode == "preset" else None,
                    dtype=self.inputs["dtype"],
                )
        except ValueError as exc:
            self.advice, self.error = None, str(exc)
        self._request_plot()

    def _request_plot(self) -> None:
        if self._renderer is None or self.advice is None:
            return
        params = self.plot_params()
        key = plot_key(params)
        if key == self._plot_key and self.plot_png is not None:
            return
        self._plot_key = key
        png = self._renderer.request(params)
        if png is not None:
            self.plot_png, self.plot_error, self.plot_pending = png, None, False
        else:
            self.plot_pending = True

    def _plot_ready(self, key: PlotKey, png: bytes | None, error: str | None) -> None:
        if key != self._plot_key:
            return  # inputs moved on while this one was drawn; a newer plot is on its way
        self.plot_png, self.plot_error, self.plot_pending = png, error, False
        self._notify("plot")


def preset_names() -> list[tuple[str, str]]:
    """(label, id) of every model preset in ``models.toml``, for a dropdown."""
    from labadvisor.memory import presets

    return [(f"{p.name} ({p.params_b:g}B)", p.id) for p in presets()]
