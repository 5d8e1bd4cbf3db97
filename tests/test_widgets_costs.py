"""The runtime panel's cost part: what "local" is (following the GPU found, like the
advice, unless chosen), a GPU bought with its price and months, storage and days, the
break-even at the rate in use and across the guide's band, and the plot with the hours
marked. Driven as a user would, without a browser."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from labadvisor import advise_runtime, monthly_costs, plots
from labadvisor.widgets import runtime_state
from labadvisor.widgets._html import DOLLAR
from labadvisor.widgets.runtime_state import RuntimeState
from labadvisor.widgets.runtime_view import RuntimePanel


def _text(markup: str) -> str:
    markup = markup.replace(DOLLAR, "$")
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", markup)).split())


@pytest.mark.parametrize(("gpu", "hardware"), [(None, "cpu-only"), (24.0, "owned-gpu")])
def test_local_follows_the_gpu_found_as_the_advice_does(gpu, hardware):
    state = RuntimeState(plot=False, gpu=gpu, hours_per_day=6)
    assert state.hardware is None
    assert state.advice.inputs["hardware"] == hardware
    assert state.cost.hardware == hardware
    # With the guide's price, storage and days, the panel prices what the advice did.
    assert state.cost.to_dict() == state.advice.cost.to_dict()
    assert state.advice.to_dict() == advise_runtime(13.0, gpu=gpu, hours_per_day=6).to_dict()


def test_a_chosen_local_option_goes_to_the_advice_too():
    state = RuntimeState(plot=False, gpu=24.0, hardware="cpu-only")
    assert state.advice.inputs["hardware"] == "cpu-only"
    assert (
        state.advice.to_dict()
        == advise_runtime(13.0, gpu=24.0, hours_per_day=6.0, hardware="cpu-only").to_dict()
    )
    assert state.cost.hardware == "cpu-only"


def test_buying_a_gpu_shows_its_price_and_months_and_prices_them():
    panel = RuntimePanel(gpu=None, plot=False)
    for name in ("hardware_price", "amortize_months"):
        assert panel.rows[name].layout.display == "none"  # no purchase to price
    panel.controls["hardware"].value = "buy-gpu"
    for name in ("hardware_price", "amortize_months"):
        assert panel.rows[name].layout.display is None
    assert panel.controls["hardware_price"].value == 2000  # the guide's
    assert panel.controls["amortize_months"].value == 24
    panel.controls["hardware_price"].value = 3600
    panel.controls["amortize_months"].value = 36
    expected = monthly_costs(6.0, hardware="buy-gpu", hardware_price=3600, amortize_months=36)
    assert panel.state.cost.to_dict() == expected.to_dict()
    shown = _text(panel.costs.value)
    assert "buying a GPU: $175.00" in shown  # $75 operating + $3,600 / 36
    assert "$100.00 of a $3,600 GPU over 36 months" in shown
    assert expected.verdict in shown
    # The advice's own cost reason used the guide's $2,000 over 24 months: said so.
    assert "uses the guide's price, months, storage and days" in shown

    panel.controls["hardware"].value = "owned-gpu"  # the price no longer applies
    assert panel.rows["hardware_price"].layout.display == "none"
    assert panel.state.cost.hardware_price is None


def test_storage_and_days_change_the_offload_side():
    panel = RuntimePanel(gpu=24.0, plot=False, hours_per_day=4)
    panel.controls["storage_gb"].value = 50
    panel.controls["days"].value = 22
    expected = monthly_costs(4.0, storage_gb=50, days=22)
    assert panel.state.cost.to_dict() == expected.to_dict()
    shown = _text(panel.costs.value)
    assert "4 h/day over 22 days" in shown
    assert "incl. $5.00 for 50 GB of storage" in shown


def test_the_break_even_band_and_the_rate_in_use_are_shown():
    panel = RuntimePanel(gpu=24.0, plot=False, hours_per_day=6)
    cost = panel.state.cost
    shown = _text(panel.costs.value)
    assert f"Break-even at ${cost.offload_rate:.2f}/h {cost.breakeven_text}" in shown
    low, high = cost.rate_band
    assert f"Guide's ${low:.2f}-{high:.2f}/h {cost.band_text}" in shown
    assert "1.25-5.0 h/day ($2.00/h to $0.50/h)" in shown  # the guide's $75 at 30 days
    assert "uses the guide's" not in shown  # the same figures as the advice's reason


def test_cpu_only_never_says_local_is_cheaper():
    panel = RuntimePanel(gpu=None, plot=False, hours_per_day=2)
    shown = _text(panel.costs.value)
    assert "this machine's CPU adds no GPU cost" in shown
    assert "cheaper" not in shown.replace("Docker Offload is cheaper", "")


@pytest.mark.parametrize(
    ("inputs", "name", "typed", "message"),
    [
        (
            {"hardware": "buy-gpu"},
            "hardware_price",
            -1,
            "GPU price (USD) must be between 0 and 1,000,000; got -1",
        ),
        (
            {"hardware": "buy-gpu"},
            "amortize_months",
            0,
            "Spread over (months) must be between 1 and 240; got 0",
        ),
        ({}, "storage_gb", -10, "Offload storage (GB) must be between 0 and 1,000,000; got -10"),
        ({}, "days", 0, "Days per month must be greater than 0 and at most 31; got 0"),
        ({}, "days", 32, "Days per month must be greater than 0 and at most 31; got 32"),
    ],
)
def test_cost_numbers_out_of_range_are_named_by_their_labels(inputs, name, typed, message):
    panel = RuntimePanel(gpu=None, plot=False, **inputs)
    cost = panel.state.cost
    panel.controls[name].value = typed
    assert panel.state.field_errors == {name: message}
    assert _text(panel.field_errors[name].value) == message
    assert panel.state.cost is cost  # the last answer stays, marked not updated
    assert "not updated" in _text(panel.outdated_note.value)


def test_a_purchase_price_is_checked_only_for_a_gpu_bought():
    state = RuntimeState(plot=False, gpu=None, hardware_price=-1)
    assert state.field_errors == {} and state.cost.hardware == "cpu-only"
    state.hardware = "buy-gpu"
    assert set(state.field_errors) == {"hardware_price"}


def test_a_cost_that_cannot_be_computed_is_the_panels_message(monkeypatch):
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ValueError("monthly cost too large to compute")

    panel = RuntimePanel(gpu=None, plot=False)
    monkeypatch.setattr(runtime_state, "monthly_costs", refuse)
    panel.controls["storage_gb"].value = 5
    assert panel.state.advice is not None and panel.state.cost is None
    assert "cost not computed: monthly cost too large to compute" in _text(panel.costs.value)


def test_the_plot_is_the_breakeven_plot_of_these_costs_with_the_hours_marked(monkeypatch):
    calls: list[dict[str, Any]] = []
    draw = plots.breakeven

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return draw(**kwargs)

    monkeypatch.setattr(plots, "breakeven", spy)
    state = RuntimeState(gpu=None, hours_per_day=3, hardware="buy-gpu", storage_gb=20)
    assert state.wait_for_plot()
    assert state.plot_png is not None and state.plot_error is None
    assert calls[-1] == {
        "figsize": (6.4, 3.4),
        "hours_per_day": 3.0,
        "team_size": 1,
        "hardware": "buy-gpu",
        "hardware_price": 2000.0,
        "amortize_months": 24,
        "storage_gb": 20.0,
        "days": 30.0,
    }
    state.set(hardware=None)  # no GPU here: the CPU, with no purchase
    assert state.wait_for_plot()
    assert calls[-1]["hardware"] == "cpu-only" and "hardware_price" not in calls[-1]


def test_cost_inputs_left_as_none_are_the_guides_and_shown_as_them():
    state = RuntimeState(
        plot=False,
        gpu=None,
        hardware="buy-gpu",
        hardware_price=None,
        amortize_months=None,
        days=None,
    )
    assert state.field_errors == {} and state.cost_error is None
    assert (state.hardware_price, state.amortize_months, state.days) == (2000.0, 24, 30.0)
    panel = RuntimePanel(state)
    assert panel.controls["hardware_price"].value == 2000.0
