"""Break-even plots as PNG bytes, and the cache that lets a panel show a drawn one at once.

Drawing the figure takes ~100-250 ms of matplotlib, far over a panel's 50 ms budget, so the
runtime state draws it in the background (:mod:`labadvisor.widgets._jobs`) and keeps the
recent ones here, keyed by their parameters.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

PlotKey = tuple[tuple[str, Any], ...]


def plot_key(params: Mapping[str, Any]) -> PlotKey:
    return tuple(sorted(params.items()))


def render_breakeven_png(params: Mapping[str, Any]) -> bytes:
    from labadvisor import plots

    figure = plots.breakeven(figsize=(6.4, 3.4), **params)
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
