"""Rule hits and how advice objects render themselves (text, HTML, plain dicts)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from labadvisor.records import Entry
from labadvisor.templates import Template


@dataclass(frozen=True)
class Reason:
    """One rule that fired: its id, what it means here, and where the guide says so."""

    rule: str
    text: str
    source: str
    # The option this rule pushed towards; None when it only informs.
    effect: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": self.text, "source": self.source, "effect": self.effect}

    def __str__(self) -> str:
        return f"[{self.rule}] {self.text} ({self.source})"


def fire(
    rule: Entry, source: str, text: Template, *, effect: str | None = None, **values: Any
) -> Reason:
    """A Reason from a data entry: its id, where it comes from, and ``text`` filled in."""
    return Reason(rule=rule.id, text=text.render(**values), source=source, effect=effect)


@dataclass
class Advice:
    """What both advisers return: a choice, the rules behind it, and warnings."""

    choice: str
    choice_label: str
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    title = "Advice"

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice,
            "choice_label": self.choice_label,
            "reasons": [r.to_dict() for r in self.reasons],
            "warnings": list(self.warnings),
        }

    def _details_text(self) -> list[str]:
        return []

    def _details_html(self) -> str:
        return ""

    def __str__(self) -> str:
        lines = [f"{self.title}: {self.choice_label} ({self.choice})", "", "Why:"]
        lines += [f"  - {r.text}\n      [{r.rule}] {r.source}" for r in self.reasons]
        if self.warnings:
            lines += ["", "Warnings:", *[f"  ! {w}" for w in self.warnings]]
        details = self._details_text()
        if details:
            lines += ["", *details]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        reasons = "".join(
            f"<li>{esc(r.text)} <small style='opacity:.7'>[{esc(r.rule)}] {esc(r.source)}"
            "</small></li>"
            for r in self.reasons
        )
        warnings = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        warn_block = (
            f"<div style='color:#9a3412'><b>Warnings</b><ul>{warnings}</ul></div>"
            if warnings
            else ""
        )
        return (
            "<div class='labadvisor-advice' style='font-family:sans-serif;line-height:1.4'>"
            f"<div style='opacity:.7'>{esc(self.title)}</div>"
            f"<div style='font-size:1.5em;font-weight:bold'>{esc(self.choice_label)}</div>"
            f"<b>Why</b><ul>{reasons}</ul>{warn_block}{self._details_html()}</div>"
        )
