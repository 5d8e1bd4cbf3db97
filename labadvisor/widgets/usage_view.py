"""The usage tab: GPU busy hours and Offload hours per day from the usage ledger, and what
Docker Offload has cost so far this month."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.options import Option
from labadvisor.usage import UsageSummary
from labadvisor.widgets._html import error_html, esc, note_html
from labadvisor.widgets._view import Panel, dropdown, set_html, shown
from labadvisor.widgets.usage_state import DAY_CHOICES, UsageState


class UsagePanel(Panel, w.VBox):
    """A days selector linked to the state's ``days``; the period covered, hours per day,
    this month's Offload cost and the bar chart, or why there is nothing to show yet."""

    panel_title = "labadvisor usage"

    def __init__(self, state: UsageState | None = None, **options: Any) -> None:
        self.state = state if state is not None else UsageState(**options)
        choices: list[Option] = [(f"last {n} days", n) for n in DAY_CHOICES]
        if self.state.days not in DAY_CHOICES:
            choices.append((f"last {self.state.days} days", self.state.days))
            choices.sort(key=lambda option: option[1])
        self.days = dropdown("Period", choices)
        self.refresh_button = w.Button(description="Read again", icon="refresh")
        self.refresh_button.on_click(lambda _: self.state.refresh())
        self.status = w.HTML()
        self.figures = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(width="512px"))
        super().__init__(
            [w.HBox([self.days, self.refresh_button]), self.status, self.figures, self.chart]
        )
        self._link(self.state, "days", self.days)
        self._watch(
            self.state,
            self.render,
            ["summary", "error", "pending", "chart_png", "chart_error"],
        )
        self.render()

    def render(self, _change: Any = None) -> None:
        state, found = self.state, self.state.summary
        if state.error:
            status = error_html(state.error)
        elif state.pending:
            status = note_html("⏳ reading the usage ledger…")
        elif state.chart_error:
            status = error_html(f"the usage chart failed: {state.chart_error}")
        else:
            status = ""
        set_html(self.status, status)
        set_html(self.figures, "" if found is None else summary_html(found))
        if state.chart_png is not None and self.chart.value != state.chart_png:
            self.chart.value = state.chart_png
        shown(self.chart, found is not None and found.has_data and state.chart_png is not None)

    def close(self) -> None:
        super().close()
        self.state.wait(5.0)


def summary_html(found: UsageSummary) -> str:
    """The period, the hours per day and this month's Offload cost, or, with no samples,
    why the ledger is empty and how it fills."""
    period = (
        f"{found.period_start[:10]} to {found.period_end[:10]} ({found.days} days, "
        f"{found.days_recorded} recorded)"
    )
    if not found.has_data:
        return (
            f"<p class='labadvisor-usage-empty'>{esc(empty_ledger_text(found))}</p>"
            f"<small style='opacity:.7'>period: {esc(period)}</small>"
        )
    bound = (
        " (upper bound: counted from the Docker context, no Offload plugin to ask)"
        if found.offload_upper_bound
        else ""
    )
    rows = [
        ("Period", period),
        ("Recording since", (found.recording_since or "never")[:16].replace("T", " ")),
        (
            f"GPU busy (≥ {found.busy_threshold_percent:g} % utilization)",
            f"{found.gpu_busy_hours_per_day:.2f} h/day, summed over GPUs",
        ),
        ("Docker Offload", f"{found.offload_hours_per_day:.2f} h/day{bound}"),
        (
            f"Offload so far in {found.month}",
            f"${found.offload_cost_month:,.2f} for {found.offload_hours_month:.2f} h "
            f"at ${found.offload_rate:,.2f}/h",
        ),
    ]
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{esc(k)}</th><td>{esc(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table class='labadvisor-usage'>{body}</table>"


def empty_ledger_text(found: UsageSummary) -> str:
    """Why there are no hours to show, and where they will come from."""
    fills = (
        "The labadvisor Jupyter server extension records one sample a minute (GPU "
        "utilization and memory, the Docker context and Docker Offload's state) while the "
        "server runs, once its usage sampler is wired in; the hours appear here after it "
        "has run for a while."
    )
    if found.recording_since is None:
        return f"The usage ledger at {found.location} has no samples yet. {fills}"
    since = found.recording_since[:16].replace("T", " ")
    return (
        f"The usage ledger at {found.location} has been recording since {since} but holds "
        f"no samples in the last {found.days} days. {fills}"
    )
