"""The GPU panel: devices with memory bars, status in plain words, live readings, and which
processes hold GPU memory."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from labadvisor.gpu import GpuProcess, GpuProcesses, UnitProcesses
from labadvisor.theme_colours import (
    ACCENT,
    MUTED,
    SUCCESS,
    SUCCESS_TEXT,
    SUCCESS_TINT,
    WARNING_TEXT,
)
from labadvisor.widgets._html import bar_html, error_html, esc, note_html
from labadvisor.widgets._view import Panel, set_html, style
from labadvisor.widgets.gpu_state import GpuState

_SPARKS = "▁▂▃▄▅▆▇█"
THIS_KERNEL_CLASS = "labadvisor-this-kernel"
_THIS_KERNEL_COLOUR = SUCCESS
_HOLDER_COLOUR = ACCENT
_NOT_VISIBLE_COLOUR = MUTED


class GpuPanel(Panel, w.VBox):
    """The live toggle and the interval are linked to the state's ``running`` and
    ``interval``. Closing the panel (or its dashboard) stops the live sampler thread.
    ``holders`` lists, per device, the processes holding GPU memory (this kernel
    highlighted), read again with each live reading and on "Detect again"."""

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
        self.holders = w.HTML()
        self.refresh_button.on_click(lambda _: self.state.refresh())
        super().__init__(
            [
                self.status,
                self.devices,
                w.HBox([self.refresh_button, self.live_toggle, self.interval]),
                self.live,
                self.holders,
            ]
        )
        self._link(self.state, "running", self.live_toggle)
        self._link(self.state, "interval", self.interval)
        self._watch(self.state, self.render, ["report", "running", "live_error"])
        self._watch(self.state, self._render_live, ["readings"])
        self._watch(self.state, self._render_holders, ["holders", "holders_error"])
        self.render()
        self._render_holders()

    def render(self, _change: Any = None) -> None:
        state, report = self.state, self.state.report
        colour = SUCCESS_TEXT if report.ok else WARNING_TEXT
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

    def _render_holders(self, _change: Any = None) -> None:
        state = self.state
        if not state.report.units():  # the status line already says why there is no GPU
            set_html(self.holders, "")
            return
        markup = "<b>GPU memory by process</b>"
        if state.holders_error:
            markup += error_html(state.holders_error)
        if state.holders is not None:
            markup += _holders_html(state.holders)
        elif not state.holders_error:
            markup += note_html("not read yet")
        set_html(self.holders, markup)

    def close(self) -> None:
        super().close()
        state: GpuState | None = self.__dict__.get("state")
        if state is not None:  # None: the state refused its options (ipywidgets' __del__)
            state.stop()


def _holders_html(found: GpuProcesses) -> str:
    """Per device: its holders, largest first, each with a bar of the device's memory."""
    if not found.devices:
        return f"<div>{esc(_sentence(found.message))}</div>"
    listed = any(u.valid and "processes" not in u.unavailable for u in found.devices)
    # Where no unit could be listed, each unit's line says why; the summary would repeat it.
    parts = [f"<div><small style='opacity:.7'>{esc(found.message)}</small></div>"] if listed else []
    for unit in found.devices:
        parts.append(_unit_html(unit))
    parts.extend(f"<div><small>note: {esc(note)}</small></div>" for note in found.notes)
    return "".join(parts)


def _unit_html(unit: UnitProcesses) -> str:
    head = f"<div style='margin-top:4px'><b>{esc(unit.label)}</b> {esc(unit.name)}"
    if not unit.valid:
        return f"{head}: {esc(_period(f'could not be read: {unit.error}'))}</div>"
    why = unit.unavailable.get("processes")
    if why is not None:
        return f"{head}: {esc(_period(f'NVML cannot list its processes here: {why}'))}</div>"
    if not unit.processes:
        return f"{head}: no process holds memory on it.</div>"
    rows = "".join(_process_row(process, unit.memory_total) for process in unit.processes)
    return f"{head}</div><table class='labadvisor-gpu-holders'>{rows}</table>"


def _process_row(process: GpuProcess, memory_total: int | None) -> str:
    used = process.memory_used
    fraction = used / memory_total if memory_total and used is not None else None
    mine = process.holder == "this-kernel"
    if mine:
        colour, attributes = (
            _THIS_KERNEL_COLOUR,
            (f" class='{THIS_KERNEL_CLASS}' style='font-weight:bold;background:{SUCCESS_TINT}'"),
        )
    elif process.holder == "not-visible":
        colour, attributes = _NOT_VISIBLE_COLOUR, " style='opacity:.75'"
    else:
        colour, attributes = _HOLDER_COLOUR, ""
    sm = "" if process.sm_utilization is None else f"SM {process.sm_utilization}%"
    title = f" title='{esc(process.note)}'" if process.note else ""
    return (
        f"<tr{attributes}><td{title}>{esc(process.describe())}</td>"
        f"<td>{bar_html(fraction, width=120, colour=colour)}</td>"
        f"<td>{_gb(used)}</td><td>pid {process.pid}</td><td>{sm}</td></tr>"
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return _period(text[:1].upper() + text[1:]) if text else text


def _period(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


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
