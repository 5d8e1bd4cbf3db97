"""Break-even plots and usage charts as PNG bytes, and the cache that lets a panel show a
drawn break-even plot at once.

Drawing a figure takes ~100-250 ms of matplotlib, far over a panel's 50 ms budget, so the
runtime and usage states draw them in the background (:mod:`labadvisor.widgets._jobs`);
the runtime state keeps the recent plots here, keyed by their parameters.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labadvisor.usage import DailyUsage

PlotKey = tuple[tuple[str, Any], ...]


def plot_key(params: Mapping[str, Any]) -> PlotKey:
    return tuple(sorted(params.items()))


def render_breakeven_png(params: Mapping[str, Any]) -> bytes:
    from labadvisor import plots

    figure = plots.breakeven(figsize=(6.4, 3.4), **params)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def render_usage_png(daily: Sequence[DailyUsage]) -> bytes:
    """GPU busy hours and Offload hours per day as side-by-side bars."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.0), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(daily)))
    width = 0.4
    axes.bar(
        [x - width / 2 for x in positions],
        [day.gpu_busy_hours for day in daily],
        width,
        label="GPU busy (h)",
        color="#2563eb",
    )
    axes.bar(
        [x + width / 2 for x in positions],
        [day.offload_hours for day in daily],
        width,
        label="Docker Offload (h)",
        color="#ea580c",
    )
    step = max(1, -(-len(daily) // 8))  # at most 8 date labels, the newest day always one
    ticks = positions[::-1][::step][::-1]
    axes.set_xticks(ticks, [daily[i].date[5:] for i in ticks])
    axes.set_xlim(-0.6, len(daily) - 0.4)
    axes.set_ylim(bottom=0)
    axes.set_ylabel("hours")
    axes.set_title("Hours per day")
    axes.legend(loc="upper left", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class PlotCache:
    """The ``size`` most recently used PNGs; safe to fill from the worker thread."""

    def __init__(self, size: int = 48) -> None:
        self._size = size
        self._pngs: OrderedDict[PlotKey, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: PlotKey) -> bytes | None:
        with self._lock:
            png = self._pngs.get(key)
            if png is not None:
                self._pngs.move_to_end(key)
            return png

    def put(self, key: PlotKey, png: bytes) -> None:
        with self._lock:
            self._pngs[key] = png
            while len(self._pngs) > self._size:
                self._pngs.popitem(last=False)
