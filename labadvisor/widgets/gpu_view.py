"""The GPU panel: devices with memory bars, status in plain words, live readings."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.widgets._html import bar_html, error_html, esc, note_html
from labadvisor.widgets._view import Panel, set_html, style
from labadvisor.widgets.gpu_state import GpuState

_SPARKS = "▁▂▃▄▅▆▇█"


class GpuPanel(Panel, w.VBox):
    """The live toggle and the interval are linked to the state's ``running`` and
    ``interval``. Closing the panel (or its dashboard) stops the live sampler thread."""

    panel_title = "labadvisor GPU panel"

    def __init__(self, state: GpuState | None = None, **options: Any) -> None:
        self.state = state if state is not None else GpuState(**options)
        self.status = w.HTML()
        self.devices = w.HTML()
        self.refresh_button = w.Button(description="Detect again", icon="refresh")
        self.live_toggle = w.ToggleButton(
            value=False, description="Live readings", icon="play", tooltip="start / stop"
        )
        self.interval = w.BoundedFloatText(
            min=0.2,
            max=60,
            step=0.5,
            description="every (s)",
            style=style(),
            layout=w.Layout(width="230px"),
        )
        self.live = w.HTML()
        self.refresh_button.on_click(lambda _: self.state.refresh())
        super().__init__(
            [
                self.status,
                self.devices,
                w.HBox([self.refresh_button, self.live_toggle, self.interval]),
                self.live,
            ]
        )
        self._link(self.state, "running", self.live_toggle)
        self._link(self.state, "interval", self.interval)
        self._watch(self.state, self.render, ["report", "running", "live_error"])
        self._watch(self.state, self._render_live, ["readings"])
        self.render()

    def render(self, _change: Any = None) -> None:
        state, report = self.state, self.state.report
        colour = "#16a34a" if report.ok else "#9a6700"
        set_html(
            self.status,
            f"<b style='color:{colour}'>{esc(state.status_text)}</b><br>"
            f"<small style='opacity:.7'>detection: {esc(report.status)} — "
            f"{esc(report.message)}</small>"
            + "".join(f"<br><small>note: {esc(n)}</small>" for n in report.notes),
        )
        set_html(self.devices, _devices_html(state.rows()))
        has_units = bool(report.units())
        self.live_toggle.disabled = not has_units and not state.running
        self.interval.disabled = state.running
        self.live_toggle.icon = "stop" if state.running else "play"
        self._render_live()

    def _render_live(self, _change: Any = None) -> None:
        state = self.state
        if state.live_error:
            set_html(self.live, error_html(state.live_error))
            return
        if not state.report.units():
            set_html(self.live, note_html("No GPU to watch on this machine."))
            return
        sample = state.last_sample
        if sample is None:
            hint = "waiting for the first reading…" if state.running else "press Live readings"
            set_html(self.live, note_html(hint))
            return
        lines = []
        for device in sample.devices:
            history = [
                d.utilization_gpu
                for s in state.samples
                for d in s.devices
                if d.label == device.label and d.utilization_gpu is not None
            ]
            fraction = (
                device.memory_used / device.memory_total
                if device.memory_total and device.memory_used is not None
                else None
            )
            util = "—" if device.utilization_gpu is None else f"{device.utilization_gpu}%"
            lines.append(
                f"<tr><td>{esc(device.label)}</td><td>util {util}</td>"
                f"<td style='font-family:monospace'>{_sparkline(history)}</td>"
                f"<td>memory {bar_html(fraction, width=120)} {_gb(device.memory_used)} / "
                f"{_gb(device.memory_total)}</td></tr>"
            )
        state_word = "live" if state.running else "stopped"
        set_html(
            self.live,
            f"<small>{state_word} · {len(state.samples)} reading(s)</small>"
            f"<table>{''.join(lines)}</table>",
        )

    def close(self) -> None:
        super().close()
        self.state.stop()


def _devices_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{esc(r['label'])}</td><td>{esc(r['name'])}</td>"
        f"<td>{bar_html(r['memory_fraction'])}</td>"
        f"<td>{_gb_value(r['memory_used_gb'])} used of {_gb_value(r['memory_total_gb'])} "
        f"({_gb_value(r['memory_free_gb'])} free)</td>"
        f"<td>{'—' if r['utilization_gpu'] is None else str(r['utilization_gpu']) + '%'}</td></tr>"
        for r in rows
    )
    return (
        "<table><tr><th align='left'>Device</th><th align='left'>Name</th>"
        "<th align='left'>Memory</th><th></th><th>Util.</th></tr>"
        f"{body}</table>"
    )


def _sparkline(values: list[int]) -> str:
    return "".join(_SPARKS[min(7, max(0, int(v) * 8 // 101))] for v in values[-30:])


def _gb(n_bytes: int | None) -> str:
    return "?" if n_bytes is None else f"{n_bytes / 1e9:.1f} GB"


def _gb_value(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} GB"
