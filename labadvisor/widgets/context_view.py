"""The Docker context panel: where this kernel's docker commands go, and switching them."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.theme_colours import SUCCESS_TEXT, WARNING_TEXT
from labadvisor.widgets._html import error_html, esc, note_html
from labadvisor.widgets._view import Panel, set_html, shown
from labadvisor.widgets.context_state import ContextState

ROLE_OPTIONS = [("Local engine", "local"), ("Docker Offload", "offload")]


class ContextPanel(Panel, w.VBox):
    """The toggle always shows the role of the context actually in use: after a failed
    switch it falls back to it, and the error is shown below.

    Choosing a role or a context asks the state to switch; the controls then show what the
    state says is in use. Showing the state's value in a control is no new choice (it
    equals the state's), so that round trip starts no switch."""

    panel_title = "labadvisor Docker context panel"

    def __init__(self, state: ContextState | None = None, **options: Any) -> None:
        self.state = state if state is not None else ContextState(**options)
        self.current = w.HTML()
        self.toggle = w.ToggleButtons(
            options=ROLE_OPTIONS,
            value=None,
            tooltips=[
                "the local Docker engine (desktop-linux, else default)",
                "Docker Offload's cloud engine (the docker-cloud context)",
            ],
        )
        self.other = w.Dropdown(description="or context", layout=w.Layout(width="280px"))
        self.global_scope = w.Checkbox(
            description="apply to all terminals (writes currentContext to config.json)",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.progress = w.HTML()
        self.error = w.HTML()
        self.engine = w.HTML()
        self.check_button = w.Button(description="Check engine", icon="plug")
        self.table = w.HTML()
        self.offload = w.HTML()
        self.offload_start = w.Button(
            description="Start Offload", icon="cloud", button_style="warning"
        )
        self.offload_stop = w.Button(description="Stop Offload", icon="stop")
        self.offload_refresh = w.Button(description="Offload status", icon="refresh")
        self.toggle.observe(self._on_toggle, names="value")
        self.other.observe(self._on_other, names="value")
        self.check_button.on_click(lambda _: self._reload_and_check())
        self.offload_start.on_click(lambda _: self.state.start_offload())
        self.offload_stop.on_click(lambda _: self.state.stop_offload())
        self.offload_refresh.on_click(lambda _: self.state.check_offload())
        self.offload_buttons = w.HBox([self.offload_start, self.offload_stop, self.offload_refresh])
        super().__init__(
            [
                self.current,
                w.HBox([self.toggle, self.other], layout=w.Layout(flex_flow="row wrap")),
                self.global_scope,
                self.progress,
                self.error,
                w.HBox([self.engine, self.check_button]),
                self.table,
                self.offload,
                self.offload_buttons,
            ]
        )
        self._link(self.state, "global_scope", self.global_scope)
        self._watch(
            self.state, self.render, ["contexts", "current", "engine", "offload", "busy", "error"]
        )
        self.render()

    def _reload_and_check(self) -> None:
        self.state.reload()
        self.state.check_engine()

    def _on_toggle(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and change["new"] != self.state.role:
            self.state.switch(change["new"])

    def _on_other(self, change: dict[str, Any]) -> None:
        current = self.state.current.name if self.state.current else None
        if change["new"] is not None and change["new"] != current:
            self.state.switch(change["new"])

    def render(self, _change: Any = None) -> None:
        state = self.state
        cur = state.current
        if cur is not None:
            role = f" ({cur.role})" if cur.role else ""
            where = f" at <code>{esc(cur.host)}</code>" if cur.host else ""
            set_html(
                self.current,
                f"<b>This kernel uses</b> <b style='font-size:1.3em'>{esc(cur.name)}</b>"
                f"{esc(role)}{where}<br><small style='opacity:.75'>why: {esc(cur.reason)}"
                "</small>",
            )
        busy = state.busy
        set_html(self.progress, f"<i>⏳ {esc(busy)}…</i>" if busy else "")
        set_html(self.error, error_html(state.error) if state.error else "")
        set_html(self.engine, _engine_html(state.engine, busy))
        set_html(self.table, _table_html(state.contexts))
        set_html(self.offload, _offload_html(state.offload))
        installed = state.offload is not None and state.offload.installed
        shown(self.offload_start, installed)
        shown(self.offload_stop, installed)
        for control in (
            self.toggle,
            self.other,
            self.check_button,
            self.offload_start,
            self.offload_stop,
            self.global_scope,
        ):
            control.disabled = busy is not None
        self._sync_controls()

    def _sync_controls(self) -> None:
        role = self.state.role
        self.toggle.value = role if role in ("local", "offload") else None
        names = self.state.context_names()
        current = self.state.current.name if self.state.current else None
        if list(self.other.options) != names:
            # New options would select the first one (a switch to it) unless nothing is
            # selected when they come; None is no choice and starts no switch.
            self.other.value = None
            self.other.options = names
        self.other.value = current if current in names else None


def _engine_html(engine: Any, busy: str | None) -> str:
    if engine is None:
        return note_html("engine not checked yet") if not busy else ""
    if not engine.reachable:
        return (
            f"<b style='color:{WARNING_TEXT}'>Engine unreachable</b> "
            f"<small>({esc(engine.error or '')})</small>"
        )
    details = f"Docker {engine.server_version}" if engine.server_version else ""
    gpu = ", GPU: " + ", ".join(engine.gpu_sources) if engine.gpu else ", no GPU"
    return (
        f"<b style='color:{SUCCESS_TEXT}'>Engine reachable</b>, round trip "
        f"<b>{engine.round_trip_ms:.1f} ms</b> <small>{esc(details + gpu)}</small>"
    )


def _table_html(listed: list[Any]) -> str:
    rows = "".join(
        f"<tr><td>{'▶ ' if c.current else ''}{esc(c.name)}</td><td>{esc(c.role)}</td>"
        f"<td><code>{esc(c.host or '—')}</code></td><td>{esc(c.description)}</td></tr>"
        for c in listed
    )
    return (
        "<table><tr><th align='left'>Context</th><th align='left'>Role</th>"
        f"<th align='left'>Endpoint</th><th align='left'>Description</th></tr>{rows}</table>"
    )


def _offload_html(status: Any) -> str:
    if status is None:
        return ""
    if not status.installed:
        return f"<b>Docker Offload</b>: not installed — <small>{esc(status.message)}</small>"
    gpu = f", GPU: {esc(status.gpu)}" if status.gpu else ""
    return f"<b>Docker Offload</b>: {esc(status.state)}{gpu}"
