"""monthly_costs, table-driven: each scenario worked out by hand, the local option named,
the guide's rate band; properties; the plot's labels; the guide's tables kept literal.

Defaults (offload-vs-local.md): owned GPU $75/month, Offload $0.50/h (band $0.50-2.00),
30 days, storage $0.10/GB/month, a GPU bought for ~$2,000 over 24 months ($83.33/month).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import labadvisor
from labadvisor import matrices, monthly_costs
from labadvisor.explain import NO_MATH

BUY = 75 + 2000 / 24  # 158.33 a month

# (id, inputs, local, offload, cheaper, break-even h/day at the chosen rate, payback months)
SCENARIOS: list[tuple[str, dict[str, Any], float, float, str, float | None, float | None]] = [
    # 2 h × 30 d × $0.50 = $30 < $75: Offload; break-even 75 / 15 = 5 h/day.
    ("light", {"hours_per_day": 2}, 75, 30, "offload", 5, None),
    # 6 × 30 × 0.5 = $90 > $75.
    ("regular", {"hours_per_day": 6}, 75, 90, "local", 5, None),
    # 8 × 30 × 0.5 = $120.
    ("heavy", {"hours_per_day": 8}, 75, 120, "local", 5, None),
    # 5 × 30 × 0.5 = $75: equal.
    ("break-even", {"hours_per_day": 5}, 75, 75, "equal", 5, None),
    # No GPU, team of 3 at 6 h: the CPU costs $0; Offload 3 × 90 = $270; no break-even.
    ("cpu team", {"hours_per_day": 6, "team_size": 3, "hardware": "cpu-only"}, 0, 270,
     "local", 0, None),
    # CPU at 2 h: $0 vs $30.
    ("cpu light", {"hours_per_day": 2, "hardware": "cpu-only"}, 0, 30, "local", 0, None),
    # Buying at 6 h: $158.33 vs $90: Offload; payback 2000 / (90 - 75) = 133.3 months;
    # break-even 158.33 / 15 = 10.56 h/day.
    ("buy regular", {"hours_per_day": 6, "hardware": "buy-gpu"}, BUY, 90, "offload",
     BUY / 15, 2000 / 15),
    # Buying at 8 h and $2/h: Offload 8 × 30 × 2 = $480; payback 2000 / (480 - 75) = 4.94.
    ("buy heavy dear", {"hours_per_day": 8, "hardware": "buy-gpu", "offload_rate": 2.0},
     BUY, 480, "local", BUY / 60, 2000 / 405),
    # Buying at 2 h: Offload $30 < running cost $75: it never pays back.
    ("buy light", {"hours_per_day": 2, "hardware": "buy-gpu"}, BUY, 30, "offload", BUY / 15,
     None),
    # $3,000 over 36 months: 75 + 83.33 = $158.33; payback 3000 / 15 = 200 months.
    ("buy 3000/36", {"hours_per_day": 6, "hardware": "buy-gpu", "hardware_price": 3000,
                     "amortize_months": 36}, BUY, 90, "offload", BUY / 15, 200),
    # Members at 2, 6, 8 h: local 3 × 75 = $225; Offload 0.5 × 30 × 16 = $240.
    ("members", {"hours_per_day": [2, 6, 8]}, 225, 240, "local", 5, None),
    # Two members at 2 h with 100 GB stored: Offload 0.5 × 30 × 4 + 100 × 0.10 = $70;
    # break-even (75 - 10 / 2) / 15 = 4.67 h/day.
    ("storage", {"hours_per_day": [2, 2], "storage_gb": 100}, 150, 70, "offload", 70 / 15,
     None),
    # $1/h at 4 h: $120 > $75; break-even 75 / 30 = 2.5.
    ("rate 1", {"hours_per_day": 4, "offload_rate": 1.0}, 75, 120, "local", 2.5, None),
    # A free rate: Offload $0; break-even never (None in JSON).
    ("free", {"hours_per_day": 4, "offload_rate": 0}, 75, 0, "offload", math.inf, None),
    # 20 days: 6 × 20 × 0.5 = $60 < $75; break-even 75 / 10 = 7.5.
    ("20 days", {"hours_per_day": 6, "days": 20}, 75, 60, "offload", 7.5, None),
    # No use: $0.
    ("zero", {"hours_per_day": 0}, 75, 0, "offload", 5, None),
    # 24 h at $2: 24 × 30 × 2 = $1,440; break-even 75 / 60 = 1.25.
    ("always on", {"hours_per_day": 24, "offload_rate": 2.0}, 75, 1440, "local", 1.25, None),
    # $100 each, 2 people at 6 h: $200 vs $180; break-even 100 / 15 = 6.67.
    ("pair", {"hours_per_day": 6, "local_monthly": 100, "team_size": 2}, 200, 180, "offload",
     100 / 15, None),
    # Storage alone (1,000 GB = $100) beats the $75 local: break-even 0 h/day.
    ("storage only", {"hours_per_day": 0, "storage_gb": 1000}, 75, 100, "local", 0, None),
    # $3/h is outside the guide's band: 3 × 30 × 3 = $270.
    ("outside band", {"hours_per_day": 3, "offload_rate": 3.0}, 75, 270, "local", 75 / 90,
     None),
    # CPU, no use: $0 each: equal, and still not "cheaper".
    ("cpu idle", {"hours_per_day": 0, "hardware": "cpu-only"}, 0, 0, "equal", 0, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "local", "offload", "cheaper", "breakeven", "payback"),
    [pytest.param(*s[1:], id=s[0]) for s in SCENARIOS],
)
def test_scenario(
    inputs: dict[str, Any],
    local: float,
    offload: float,
    cheaper: str,
    breakeven: float | None,
    payback: float | None,
) -> None:
    c = monthly_costs(**inputs)
    assert c.local == pytest.approx(local)
    assert c.offload == pytest.approx(offload)
    assert c.cheaper == cheaper
    assert c.breakeven_hours_per_day == pytest.approx(breakeven)
    assert (c.payback_months is None) == (payback is None)
    if payback is not None:
        assert c.payback_months == pytest.approx(payback)
    text = str(c)
    assert c.local_label in text  # names the local option it compares
    if c.hardware == "cpu-only":
        assert "cheaper" not in text and "cheaper" not in c.verdict
    json.dumps(c.to_dict(), allow_nan=False)


def test_at_least_20_scenarios() -> None:
    assert len(SCENARIOS) >= 20


def test_the_rate_band_and_the_chosen_rate() -> None:
    c = monthly_costs(6)
    assert c.rate_band == (0.5, 2.0)
    # 75 / (2 × 30) = 1.25 and 75 / (0.5 × 30) = 5.
    assert c.breakeven_band == pytest.approx((1.25, 5.0))
    assert c.offload_band == pytest.approx((90, 360))
    assert "1.25-5.0 h/day ($2.00/h to $0.50/h)" in str(c)
    outside = monthly_costs(6, offload_rate=3.0)
    assert not outside.rate_in_band and "your $3.00/h is outside it" in str(outside)


def test_reasons_name_the_local_option() -> None:
    assert "your owned GPU workstation is cheaper" in str(monthly_costs(8))
    assert "buying a GPU" in str(monthly_costs(8, hardware="buy-gpu"))
    cpu = str(monthly_costs(6, team_size=3, hardware="cpu-only"))
    assert "this machine's CPU" in cpu and "local is cheaper" not in cpu


def _check_wording_agrees(text: str, c: Any) -> None:
    """``text`` (a verdict, the printed comparison or the runtime advice's cost reason) calls
    cheaper the side the numbers do, and a GPU bought's payback is set against the months
    it is spread over the way the verdict goes."""
    said = {
        "local": f"{c.local_label} is cheaper" in text,
        "offload": "Docker Offload is cheaper" in text,
        "equal": "cost the same" in text,
    }
    if c.hardware == "cpu-only":
        assert not any(said.values()) and "adds no GPU cost" in text
        return
    assert [side for side, yes in said.items() if yes] == [c.cheaper], text
    if c.hardware != "buy-gpu":
        assert "pays for itself" not in text
        return
    months = c.amortize_months
    found = re.search(r"pays for itself (?:in|only after) ([0-9.]+) months", text)
    if c.payback_months is None:
        assert found is None and "never pays for itself" in text and c.cheaper != "local"
        return
    assert found is not None, text
    payback = float(found.group(1))
    if c.cheaper == "offload":
        # Offload cheaper: the purchase takes longer to repay than it is spread over.
        assert payback >= months and "longer than the" in text and "within" not in text
    elif c.cheaper == "local":
        assert payback <= months and "within the" in text and "longer than" not in text
    else:
        assert f"the {months} month" in text and "within" not in text and "longer" not in text


def test_a_gpu_bought_that_pays_back_after_its_months_says_so() -> None:
    # issue 11: at 10 h/day buying costs 75 + 2000 / 24 = $158.33 against Offload
    # 10 × 30 × 0.5 = $150: Offload is cheaper, and the payback 2000 / (150 - 75) = 26.7
    # months is longer than the 24 months the purchase is spread over; said as such.
    c = monthly_costs(10, hardware="buy-gpu")
    assert c.cheaper == "offload" and c.payback_months == pytest.approx(26.67, abs=0.01)
    assert c.verdict == (
        "Docker Offload is cheaper; the GPU pays for itself only after 26.7 months of "
        "Offload savings, longer than the 24 months it is spread over"
    )
    # At 14 h: $158.33 against $210: buying is cheaper; payback 2000 / 135 = 14.8 months.
    bought = monthly_costs(14, hardware="buy-gpu")
    assert bought.verdict == (
        "buying a GPU is cheaper; the GPU pays for itself in 14.8 months, within the 24 "
        "months it is spread over"
    )
    # $1,200 over one month at 10 h: 75 + 1200 = $1,275 vs $150; payback 1200 / 75 = 16.
    one = monthly_costs(10, hardware="buy-gpu", hardware_price=1200, amortize_months=1)
    assert one.verdict.endswith("16.0 months of Offload savings, longer than the 1 month it "
                                "is spread over")  # fmt: skip
    # Where a payback rounds to the months it is set against, more digits tell them apart:
    # Offload = 75 + 2000 / 23.96 = $158.47 a month (at 10.5647 h/day), 2000 / 83.47 = 23.96.
    close = monthly_costs((75 + 2000 / 23.96) / 15, hardware="buy-gpu", amortize_months=24)
    assert close.cheaper == "local" and "pays for itself in 23.96 months" in close.verdict


@pytest.mark.parametrize("kind", ["owned-gpu", "buy-gpu", "cpu-only"])
@pytest.mark.parametrize("hours", [0, 1, 2, 4.9, 5, 6, 8, 10, 10.56, 12, 12.5, 16, 20, 24])
def test_cost_wording_never_contradicts_the_verdict(kind: str, hours: float) -> None:
    c = monthly_costs(hours, hardware=kind)
    for text in (c.verdict, str(c), c._repr_html_()):
        _check_wording_agrees(text, c)
    advice = labadvisor.advise_runtime(4, gpu=None, hours_per_day=hours, hardware=kind)
    (reason,) = [r for r in advice.reasons if r.rule == "cost.compare"]
    _check_wording_agrees(reason.text, c)


@settings(max_examples=120, deadline=None)
@given(
    h=st.floats(0, 24, allow_nan=False),
    rate=st.floats(0, 10, allow_nan=False),
    kind=st.sampled_from(["owned-gpu", "buy-gpu", "cpu-only"]),
    team=st.integers(1, 6),
    price=st.floats(0, 2e4, allow_nan=False),
    months=st.integers(1, 60),
    storage=st.floats(0, 2000, allow_nan=False),
)
def test_cost_wording_agrees_with_the_numbers(
    h: float, rate: float, kind: str, team: int, price: float, months: int, storage: float
) -> None:
    extra: dict[str, Any] = {}
    if kind == "buy-gpu":
        extra = {"hardware_price": price, "amortize_months": months}
    c = monthly_costs(
        h, offload_rate=rate, hardware=kind, team_size=team, storage_gb=storage, **extra
    )
    _check_wording_agrees(c.verdict, c)
    _check_wording_agrees(str(c), c)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"hours_per_day": 2, "hardware": "laptop"}, "unknown hardware 'laptop'; valid values"),
        ({"hours_per_day": 2, "hardware_price": 100}, "apply to hardware='buy-gpu' only"),
        ({"hours_per_day": 2, "hardware": "buy-gpu", "amortize_months": 0}, "amortize_months"),
        ({"hours_per_day": 2, "hardware": "buy-gpu", "hardware_price": -5}, "hardware_price"),
        ({"hours_per_day": [2, 6], "team_size": 3}, "team_size is 3 but hours_per_day lists 2"),
        ({"hours_per_day": []}, "at least one member"),
        ({"hours_per_day": [2, 30]}, "hours_per_day"),
        ({"hours_per_day": 2, "storage_gb": -1}, "storage_gb"),
    ],
)
def test_bad_cost_input(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monthly_costs(**inputs)


hours = st.floats(0, 24, allow_nan=False)
rates = st.floats(0, 50, allow_nan=False)
hardware = st.sampled_from(["owned-gpu", "buy-gpu", "cpu-only"])


@settings(max_examples=80, deadline=None)
@given(h1=hours, h2=hours, rate=rates, kind=hardware, team=st.integers(1, 8))
def test_costs_are_monotone_in_hours(
    h1: float, h2: float, rate: float, kind: str, team: int
) -> None:
    low, high = sorted((h1, h2))
    a = monthly_costs(low, offload_rate=rate, hardware=kind, team_size=team)
    b = monthly_costs(high, offload_rate=rate, hardware=kind, team_size=team)
    assert a.offload <= b.offload and a.local == b.local
    if a.payback_months is not None and b.payback_months is not None:
        assert b.payback_months <= a.payback_months


@settings(max_examples=80, deadline=None)
@given(h=hours, r1=rates, r2=rates, kind=hardware, storage=st.floats(0, 1e4))
def test_costs_are_monotone_in_rate(
    h: float, r1: float, r2: float, kind: str, storage: float
) -> None:
    low, high = sorted((r1, r2))
    a = monthly_costs(h, offload_rate=low, hardware=kind, storage_gb=storage)
    b = monthly_costs(h, offload_rate=high, hardware=kind, storage_gb=storage)
    assert a.offload <= b.offload
    assert b.breakeven_hours_per_day <= a.breakeven_hours_per_day


@settings(max_examples=80, deadline=None)
@given(
    h=hours,
    local=st.floats(0, 5000),
    days=st.floats(0.5, 31),
    kind=hardware,
    price=st.floats(0, 1e5),
    months=st.integers(1, 120),
)
def test_band_contains_the_default_rate_breakeven(
    h: float, local: float, days: float, kind: str, price: float, months: int
) -> None:
    extra: dict[str, Any] = {}
    if kind == "buy-gpu":
        extra = {"hardware_price": price, "amortize_months": months}
    c = monthly_costs(h, local_monthly=local, days=days, hardware=kind, **extra)
    low, high = c.breakeven_band
    assert low <= c.breakeven_hours_per_day <= high  # the default $0.50/h is in the band
    json.dumps(c.to_dict(), allow_nan=False)  # no NaN or Infinity


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(hours, min_size=1, max_size=6),
    rate=rates,
    kind=hardware,
    storage=st.floats(0, 1e6),
)
def test_to_dict_is_finite_json(
    members: list[float], rate: float, kind: str, storage: float
) -> None:
    assume(len(members) >= 1)
    c = monthly_costs(members, offload_rate=rate, hardware=kind, storage_gb=storage)
    json.dumps(c.to_dict(), allow_nan=False)


def test_guide_tables_stay_literal_under_overrides() -> None:
    guide_table = matrices.cost_breakeven().to_dict()
    scenarios = matrices.usage_scenarios().to_dict()
    labadvisor.configure({"offload-vs-local": {"costs": {"defaults": {"offload_rate": 1.2}}}})
    try:
        assert matrices.cost_breakeven().to_dict() == guide_table
        assert matrices.usage_scenarios().to_dict() == scenarios
        yours = matrices.your_cost_scenarios(hardware="buy-gpu")
        assert set(yours["Basis"]) == {matrices.YOUR_SCENARIOS_TITLE}
        assert "not the guide's table" in yours.attrs["title"]
        assert set(yours["Offload rate (USD/h)"]) == {1.2}
        assert set(yours["Local option"]) == {"buying a GPU"}
    finally:
        labadvisor.configure(reset=True)


def test_html_reprs_opt_out_of_mathjax() -> None:
    from labadvisor import advise_deployment, advise_runtime

    for rendered in (
        monthly_costs(6)._repr_html_(),
        advise_runtime(5, gpu=24.0, hours_per_day=6)._repr_html_(),
        advise_deployment(80, current="compose")._repr_html_(),
    ):
        root = rendered[: rendered.index(">")]
        assert NO_MATH in root, root
    plan = advise_deployment(80, current="compose").migration
    assert plan is not None
    html = plan._repr_html_()
    assert NO_MATH in html[: html.index(">")]
    checklist = html[html.index("<div class='labadvisor-checklist'>") :]
    assert "4-hour maintenance window scheduled" in checklist.split("</div>")[0]


# ------------------------------------------------------------------------ the plot

PLOT_CASES = [
    {},
    {"hours_per_day": 6},
    {"hours_per_day": 2},
    {"hours_per_day": [2, 6, 8], "hardware": "buy-gpu"},
    {"hours_per_day": 3, "hardware": "cpu-only"},
    {"hours_per_day": 12, "offload_rate": 2.0},
]


@pytest.mark.parametrize("figsize", [(7.0, 4.2), (3.5, 4.2), (6.4, 3.4)])
@pytest.mark.parametrize("inputs", PLOT_CASES)
def test_plot_labels_touch_no_tick_line_or_other_label(
    inputs: dict[str, Any], figsize: tuple[float, float]
) -> None:
    """Boxes from matplotlib's renderer, checked here without the placement code."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.path import Path
    from matplotlib.text import Annotation, Text

    fig = labadvisor.plots.breakeven(figsize=figsize, **inputs)
    fig.canvas.draw()
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # breakeven() attaches one
    renderer = canvas.get_renderer()
    ax = fig.axes[0]

    def box(text: Text) -> Any:
        if isinstance(text, Annotation):
            text.update_positions(renderer)
        return Text.get_window_extent(text, renderer)

    labels = [box(t) for t in ax.texts]
    ticks = [
        t.get_window_extent(renderer)
        for t in (*ax.get_xticklabels(), *ax.get_yticklabels())
        if t.get_text()
    ]
    inner = ax.get_window_extent(renderer)
    for i, a in enumerate(labels):
        assert inner.x0 <= a.x0 and a.x1 <= inner.x1 and inner.y0 <= a.y0 and a.y1 <= inner.y1
        assert not any(a.overlaps(b) for b in labels[i + 1 :])
        assert not any(a.overlaps(t) for t in ticks)
        for line in ax.get_lines():
            points = line.get_transform().transform(np.asarray(line.get_xydata(), float))
            if line.get_linestyle() not in ("None", "none") and len(points) > 1:
                assert not Path(points).intersects_bbox(a, filled=False), line.get_label()
            else:
                assert not any(a.contains(x, y) for x, y in points), line.get_label()
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(legend.overlaps(t) for t in ticks)


def test_plot_has_both_lines_the_band_and_you_are_here() -> None:
    fig = labadvisor.plots.breakeven(hours_per_day=6)
    ax = fig.axes[0]
    names = [str(line.get_label()) for line in ax.get_lines()]
    assert any(n.startswith("Your owned GPU workstation") for n in names)
    assert "Docker Offload ($0.50/h)" in names
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Offload at the guide's $0.50-2.00/h" in legend
    assert "break-even band 1.25-5.0 h/day" in legend
    assert "you are here" in [t.get_text() for t in ax.texts]
    assert "you are here" not in [t.get_text() for t in labadvisor.plots.breakeven().axes[0].texts]
