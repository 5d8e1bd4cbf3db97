"""Break-even plots rendered to PNG off the kernel's thread.

Drawing the figure takes ~100-250 ms of matplotlib, far over a panel's 50 ms budget, so
panels ask for a plot and get it a moment later: renders are cached by their parameters,
only the newest request is drawn when inputs change faster than plots render, and the
worker thread exits as soon as nothing is pending, so no thread outlives the work.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

PlotKey = tuple[tuple[str, Any], ...]


def plot_key(params: dict[str, Any]) -> PlotKey:
    return tuple(sorted(params.items()))


def render_breakeven_png(params: dict[str, Any]) -> bytes:
    from labadvisor import plots

    figure = plots.breakeven(figsize=(6.4, 3.4), **params)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class PlotRenderer:
    """Renders ``render(params)`` in a short-lived worker; ``on_ready(key, png)`` follows."""

    def __init__(
        self,
        on_ready: Callable[[PlotKey, bytes | None, str | None], None],
        *,
        render: Callable[[dict[str, Any]], bytes] = render_breakeven_png,
        cache_size: int = 48,
    ) -> None:
        self._on_ready = on_ready
        self._render = render
        self._cache: OrderedDict[Hashable, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._pending: tuple[PlotKey, dict[str, Any]] | None = None
        self._worker: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        if render is render_breakeven_png:
            # Import matplotlib here, on the caller's thread: an import racing in the worker
            # exposes half-initialised numpy/matplotlib modules to code on the main thread.
            import labadvisor.plots  # noqa: F401

    def cached(self, params: dict[str, Any]) -> bytes | None:
        with self._lock:
            return self._cache.get(plot_key(params))

    def request(self, params: dict[str, Any]) -> bytes | None:
        """The PNG now if cached; otherwise None, and ``on_ready`` is called when drawn."""
        key = plot_key(params)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            self._pending = (key, dict(params))
            self._idle.clear()
            if self._worker is None:
                # Not a daemon: interpreter exit waits for the render in progress (well under
                # a second) instead of killing matplotlib's C++ code mid-draw.
                self._worker = threading.Thread(
                    target=self._run, name="labadvisor-plot", daemon=False
                )
                self._worker.start()
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every requested plot is drawn; True unless the timeout ran out."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._worker = None
                    self._idle.set()
                    return
            key, params = job
            png: bytes | None = None
            error: str | None = None
            try:
                png = self._render(params)
            except Exception as exc:  # a bad override must not kill the worker silently
                error = f"{type(exc).__name__}: {exc}"
            if png is not None:
                with self._lock:
                    self._cache[key] = png
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            self._on_ready(key, png, error)
