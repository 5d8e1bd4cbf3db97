"""The usage tab: GPU busy hours and Offload hours per day from the usage ledger, and what
Docker Offload has cost so far this month."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.options import Option
from labadvisor.usage import UsageSummary
from labadvisor.widgets._html import error_html, esc, note_html
from labadvisor.widgets._view import Panel, described_image, dropdown, set_html, shown
from labadvisor.widgets.usage_state import DAY_CHOICES, UsageState

EMPTY_CLASS = "labadvisor-usage-empty"


class UsagePanel(Panel, w.VBox):
    """A days selector linked to the state's ``days``; the period covered, hours per day,
    this month's Offload cost and the bar chart, or (``notice``) why there is nothing to
    show yet."""

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
        self.notice = w.HTML()
        self.figures = w.HTML()
        self.chart = described_image("Bar chart: GPU busy and Docker Offload hours per day")
        super().__init__(
            [
                w.HBox([self.days, self.refresh_button]),
                self.status,
                self.notice,
                self.figures,
                self.chart,
            ]
        )
        self._link(self.state, "days", self.days)
        self._watch(
            self.state,
            self.render,
            ["summary", "notice", "error", "pending", "chart_png", "chart_error"],
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
        notice = f"<p class='{EMPTY_CLASS}'>{esc(state.notice)}</p>" if state.notice else ""
        set_html(self.notice, notice)
        set_html(self.figures, "" if found is None else summary_html(found))
        if state.chart_png is not None and self.chart.value != state.chart_png:
            self.chart.value = state.chart_png
        shown(self.chart, found is not None and found.has_data and state.chart_png is not None)

    def close(self) -> None:
        super().close()
        state: UsageState | None = self.__dict__.get("state")
        if state is not None:  # None: the state refused its options (ipywidgets' __del__)
            state.wait(5.0)


def summary_html(found: UsageSummary) -> str:
    """The period, the hours per day and this month's Offload cost (only the period while
    there are no samples: the state's notice says why)."""
    period = (
        f"{found.period_start[:10]} to {found.period_end[:10]} ({found.days} days, "
        f"{found.days_recorded} recorded)"
    )
    if not found.has_data:
        return f"<small style='opacity:.7'>period: {esc(period)}</small>"
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
