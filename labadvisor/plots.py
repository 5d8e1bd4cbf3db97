"""Matplotlib figures of the cost model. Figures are built without pyplot's global state.

Labels inside the axes are placed, not guessed: each one tries a few positions around its
point and takes the first whose box stays inside the axes and touches no other label, no
line and no marker (:func:`label_clashes` is the check, and what the tests use). A label
that fits nowhere is left out rather than drawn over something; the legend, below the axes,
still says what every line is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from labadvisor.costs import (
    local_cost,
    member_hours,
    monthly_cost_arrays,
    rate_band,
    resolve_hours,
    resolve_rates,
)
from labadvisor.guides import offload_guide
from labadvisor.units import check_finite_number

_LOCAL = "#2563eb"
_OFFLOAD = "#ea580c"
_YOU = "#16a34a"
_BAND = "#6b7280"
# Offsets (points) and alignments tried for a label, nearest first, in eight directions.
_DIRECTIONS = (
    (1, 1, "left", "bottom"),
    (-1, 1, "right", "bottom"),
    (1, -1, "left", "top"),
    (-1, -1, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
)
# (dx, dy, ha, va, rotation)
Spot = tuple[int, int, str, str, int]
_NEAR: list[Spot] = [
    (dx * r, dy * r, ha, va, 0) for r in (4, 7, 10, 14) for dx, dy, ha, va in _DIRECTIONS
]
# Upright along a vertical line through the point: left of it going up, right of it, below.
_ALONG: list[Spot] = [
    (-3, 8, "left", "bottom", 90),
    (3, 8, "left", "top", 90),
    (-3, -8, "right", "bottom", 90),
    (3, -8, "right", "top", 90),
]
# Farther spots, tried when no near one is free; a label there gets a leader line.
_FAR: list[Spot] = [
    (dx * r, dy * r, ha, va, 0)
    for r in (20, 28, 38, 50, 65, 85, 110)
    for dx, dy, ha, va in _DIRECTIONS
]
_PAD_PX = 2.0  # the gap a label keeps from lines, markers, other labels and the axes' edge


@dataclass(frozen=True)
class _Label:
    text: str
    xy: tuple[float, float]
    color: str
    fontsize: float
    weight: str = "normal"
    along_line: bool = False  # first try upright along a vertical line through the point
    # May sit farther off without a leader when nothing nearer is free; other labels are
    # then left out (their marker and the legend still show).
    essential: bool = False


def breakeven(
    *,
    local_monthly: float | None = None,
    offload_rate: float | None = None,
    days: float | None = None,
    team_size: int = 1,
    hours_per_day: float | Sequence[float] | str | None = None,
    max_hours: float = 24.0,
    scenarios: bool = True,
    figsize: tuple[float, float] = (7.0, 4.2),
    hardware: str = "owned-gpu",
    hardware_price: float | None = None,
    amortize_months: int | None = None,
    storage_gb: float = 0.0,
    usage_days: int = 30,
) -> Figure:
    """Monthly cost against daily Offload hours per member: the local option (flat) and
    Offload at ``offload_rate`` (rising), with the guide's $0.50-2.00/h range shaded around
    it and the break-even band that range gives along the hours axis.

    The break-even at ``offload_rate`` is marked, the guide's usage scenarios are annotated,
    and ``hours_per_day`` (one number, or one per member: their mean is shown) is marked
    "you are here". ``hours_per_day="measured"`` marks the hours the usage ledger measured
    (GPU busy hours plus Docker Offload hours per day over the last ``usage_days`` days, see
    :func:`labadvisor.costs.measured_hours`; a ValueError while it has none), labelled
    "measured" in the legend. ``hardware`` and the rest are as
    :func:`labadvisor.monthly_costs`.
    """
    local = local_cost(
        hardware,
        local_monthly=local_monthly,
        hardware_price=hardware_price,
        amortize_months=amortize_months,
    )
    _, offload_rate, days = resolve_rates(local.operating, offload_rate, days)
    you: float | None = None
    given, measured = resolve_hours(hours_per_day, usage_days)
    if given is not None:
        hours_each, team_size = member_hours(given, team_size)
        you = sum(hours_each) / team_size
    else:
        _, team_size = member_hours(0.0, team_size)
    max_hours = check_finite_number(
        max_hours, "max_hours", minimum=0, maximum=24, strict_minimum=True
    )
    storage_gb = check_finite_number(storage_gb, "storage_gb", minimum=0)
    storage = storage_gb * offload_guide().costs.price("cost.offload.storage").low
    low_rate, high_rate = rate_band()
    hours = np.linspace(0.0, max_hours, 241)
    common = {
        "local_monthly": local.monthly,
        "team_size": team_size,
        "days": days,
        "storage_monthly": storage,
    }
    curve = monthly_cost_arrays(hours, offload_rate=offload_rate, **common)
    cheap = monthly_cost_arrays(hours, offload_rate=low_rate, **common)
    dear = monthly_cost_arrays(hours, offload_rate=high_rate, **common)
    even = float(curve.breakeven_hours_per_day[0])
    band = (float(dear.breakeven_hours_per_day[0]), float(cheap.breakeven_hours_per_day[0]))
    local_total = float(curve.local[0])
    has_local_cost = local.monthly > 0

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = figsize[0]
    small = width < 5
    label_size = 7.0 if small else 8.0
    ax.fill_between(
        hours,
        cheap.offload,
        dear.offload,
        color=_OFFLOAD,
        alpha=0.12,
        linewidth=0,
        label=f"Offload at the guide's ${low_rate:.2f}-{high_rate:.2f}/h",
    )
    if has_local_cost and band[0] < max_hours:
        ax.axvspan(
            band[0],
            min(band[1], max_hours),
            color=_BAND,
            alpha=0.12,
            linewidth=0,
            label=f"break-even band {_h(band[0])}-{_h(band[1])} h/day",
        )
    name = local.option.label
    ax.plot(
        hours,
        curve.local,
        color=_LOCAL,
        label=f"{name[0].upper()}{name[1:]} (${local.monthly:,.0f}/month each)",
    )
    ax.plot(hours, curve.offload, color=_OFFLOAD, label=f"Docker Offload (${offload_rate:.2f}/h)")

    top = max(local_total * 2.2, float(curve.offload[-1]) * 1.1, 1.0)
    labels: list[_Label] = []
    if has_local_cost and even <= max_hours:
        ax.axvline(even, color=_BAND, linestyle="--", linewidth=1)
        ax.plot(
            [even],
            [local_total],
            "o",
            color="#111827",
            markersize=5,
            label=f"break-even at ${offload_rate:.2f}/h: {_h(even)} h/day",
        )
        labels.append(
            _Label(
                f"break-even {_h(even)} h/day",
                (even, local_total),
                "#111827",
                9,
                along_line=True,
                essential=True,
            )
        )
    if scenarios:
        scenario_list = [
            s for s in offload_guide().costs.usage_scenarios if s.hours_per_day <= max_hours
        ]
        at = monthly_cost_arrays(
            [s.hours_per_day for s in scenario_list], offload_rate=offload_rate, **common
        )
        for scenario, cost in zip(scenario_list, at.offload.tolist(), strict=True):
            ax.plot([scenario.hours_per_day], [cost], "s", color=_OFFLOAD, markersize=4)
            labels.append(
                _Label(
                    scenario.name.split()[0], (scenario.hours_per_day, cost), "#9a3412", label_size
                )
            )
    if you is not None:
        at_you = monthly_cost_arrays(you, offload_rate=offload_rate, **common)
        cost = float(at_you.offload)
        top = max(top, cost * 1.15)
        you_label = f"you: {round(you, 2):g} h/day"
        if measured is not None:
            you_label += f" (measured, last {usage_days} days)"
        ax.axvline(you, color=_YOU, linewidth=1.5, label=you_label)
        ax.plot([you], [cost], "D", color=_YOU, markersize=5)
        labels.insert(0, _Label("you are here", (you, cost), _YOU, 9, "bold", essential=True))

    team = f", team of {team_size}" if team_size > 1 else ""
    title = f"{name[0].upper()}{name[1:]}{team}\nvs Docker Offload"
    ax.set_title(title if small else f"Monthly cost{team}: {name} vs Docker Offload", fontsize=10)
    ax.set_xlabel("Offload hours per day" + (" per member" if team_size > 1 else ""))
    ax.set_ylabel("USD per month")
    ax.set_xlim(0, max_hours)
    ax.set_ylim(0, top)
    fig.legend(
        loc="outside lower center",
        ncols=1 if small else 2,
        fontsize=7 if small else 8,
        frameon=False,
    )
    _place_labels(fig, ax, labels)
    return fig


def _h(value: float) -> str:
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


def _place_labels(fig: Figure, ax: Axes, labels: list[_Label]) -> None:
    """Lay the figure out once, fix it, then give each label the first spot that clashes
    with nothing (see :func:`label_clashes`); a label with no such spot is left out."""
    fig.canvas.draw()
    fig.set_layout_engine("none")  # keep the laid-out positions the labels were placed in
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # breakeven() attaches one
    renderer = canvas.get_renderer()
    for label in labels:
        # Near, then farther with a leader that crosses no line, then (for an essential
        # label) farther with a leader that may cross one.
        # (spot, leader: "" none, "clear" one that crosses no line, "any" any leader)
        spots: list[tuple[Spot, str]] = [(spot, "") for spot in _NEAR]
        spots += [(spot, "clear") for spot in _FAR]
        if label.essential:
            spots += [(spot, "any") for spot in _FAR]
        if label.along_line:
            spots[:0] = [(spot, "") for spot in _ALONG]
        for (dx, dy, ha, va, rotation), leader in spots:
            text = ax.annotate(
                label.text,
                label.xy,
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=label.fontsize,
                color=label.color,
                fontweight=label.weight,
                rotation=rotation,
                rotation_mode="anchor",
                arrowprops=(
                    {"arrowstyle": "-", "color": label.color, "linewidth": 0.8, "shrinkB": 4}
                    if leader
                    else None
                ),
            )
            if not label_clashes(ax, text, renderer) and not (
                leader == "clear" and _leader_crosses(ax, text, renderer)
            ):
                break
            text.remove()


def label_clashes(ax: Axes, text: Text, renderer: RendererBase) -> list[str]:
    """What ``text`` sits on: outside the axes (where the ticks are), another text of
    ``ax``, a line or a marker; an empty list when nothing."""
    box = _text_box(text, renderer).padded(_PAD_PX)
    out: list[str] = []
    inner = ax.get_window_extent(renderer)
    if not (
        inner.x0 <= box.x0 and box.x1 <= inner.x1 and inner.y0 <= box.y0 and box.y1 <= inner.y1
    ):
        out.append("outside the axes")
    for other in ax.texts:
        if other is not text and other.get_visible() and box.overlaps(_text_box(other, renderer)):
            out.append(f"text {other.get_text()!r}")
    for line in ax.get_lines():
        if _touches(line, box, renderer):
            out.append(f"line {line.get_label()!r}")
    return out


def _leader_crosses(ax: Axes, text: Annotation, renderer: RendererBase) -> bool:
    """Whether the leader from ``text`` to its point crosses a line (its last few pixels,
    where the point itself sits on lines, excepted)."""
    box = _text_box(text, renderer)
    end = np.asarray(ax.transData.transform(text.xy), dtype=float)
    start = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    length = float(np.hypot(*(start - end)))
    if length <= 8:
        return False
    stop = end + (start - end) * (8 / length)
    leader = Path(np.array([start, stop]))
    for line in ax.get_lines():
        if line.get_linestyle() in ("None", "none", "", " "):
            continue
        points = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        if len(points) > 1 and Path(points).intersects_path(leader, filled=False):
            return True
    return False


def _text_box(text: Text, renderer: RendererBase) -> Bbox:
    """The box of a text's characters (an annotation's leader line left out)."""
    if isinstance(text, Annotation):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _touches(line: Line2D, box: Bbox, renderer: RendererBase) -> bool:
    points = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
    drawn = line.get_linestyle() not in ("None", "none", "", " ") and len(points) > 1
    if drawn and Path(points).intersects_bbox(box, filled=False):
        return True
    if line.get_marker() not in (None, "None", "none", "", " "):
        half = float(np.asarray(renderer.points_to_pixels(float(line.get_markersize())))) / 2
        for x, y in points:
            if box.overlaps(Bbox([[x - half, y - half], [x + half, y + half]])):
                return True
    return False
