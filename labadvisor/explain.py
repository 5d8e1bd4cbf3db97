"""Rule hits and how advice objects render themselves (text, HTML, plain dicts).

Every :class:`Reason` says what it did to the answer (its ``effect``):

- ``"decided"``: the rule that settled the choice; exactly one per advice;
- ``"supports"``: a rule that pointed to the same option;
- ``"overridden"``: a rule that pointed to another option (``points_to``) and lost;
- ``"info"``: context that pointed nowhere (what was found locally, costs, audience).

Renderings show the deciding reason first, then the supporting and informative ones, and
the overridden ones last under a heading saying they were not followed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from labadvisor.records import Entry
from labadvisor.templates import Template
from labadvisor.theme_colours import WARNING_TEXT

Effect = Literal["decided", "supports", "overridden", "info"]
EFFECTS: tuple[Effect, ...] = get_args(Effect)

NOT_FOLLOWED_HEADING = "Not followed (another rule decided):"
# JupyterLab typesets "$75 ... $90" in HTML output as maths (even written as &#36;); every
# HTML repr root carries these classes, which MathJax skips.
NO_MATH = "tex2jax_ignore mathjax_ignore"


@dataclass(frozen=True)
class Reason:
    """One rule that fired: its id, what it means here, where the guide says so, and what
    it did to the answer (``effect``, see the module docstring)."""

    rule: str
    text: str
    source: str
    effect: Effect = "info"
    # The option this rule pointed to; None for "info" reasons.
    points_to: str | None = None

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise ValueError(f"unknown effect {self.effect!r}; valid effects: {EFFECTS}")
        if (self.effect == "info") != (self.points_to is None):
            raise ValueError(
                f"reason {self.rule!r}: an 'info' reason points nowhere and every other "
                f"effect names the option it pointed to (effect={self.effect!r}, "
                f"points_to={self.points_to!r})"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "text": self.text,
            "source": self.source,
            "effect": self.effect,
            "points_to": self.points_to,
        }

    def __str__(self) -> str:
        return f"[{self.rule}] {self.text} ({self.source})"


def fire(
    rule: Entry,
    source: str,
    text: Template,
    *,
    effect: Effect | None = None,
    points_to: str | None = None,
    **values: Any,
) -> Reason:
    """A Reason from a data entry: its id, where it comes from, and ``text`` filled in.

    Without ``effect`` a reason pointing somewhere "supports" until :func:`settle` weighs it
    against the final choice, and one pointing nowhere is "info".
    """
    if effect is None:
        effect = "info" if points_to is None else "supports"
    return Reason(
        rule=rule.id,
        text=text.render(**values),
        source=source,
        effect=effect,
        points_to=points_to,
    )


def settle(reasons: Iterable[Reason], choice: str, deciding: str | None = None) -> list[Reason]:
    """``reasons`` with their effects set against the final ``choice``.

    Each reason's ``points_to`` says where it pointed: the one whose rule id is
    ``deciding`` (by default the first one pointing to ``choice``) becomes "decided", the
    others pointing to ``choice`` "supports", those pointing elsewhere "overridden", and
    those pointing nowhere "info". ValueError when no reason can be the deciding one.
    """
    out: list[Reason] = []
    decided = False
    for reason in reasons:
        if reason.points_to is None:
            effect: Effect = "info"
        elif reason.points_to != choice:
            effect = "overridden"
        elif not decided and (deciding is None or reason.rule == deciding):
            effect, decided = "decided", True
        else:
            effect = "supports"
        out.append(replace(reason, effect=effect))
    if not decided:
        raise ValueError(f"no reason decided {choice!r} (deciding rule {deciding!r})")
    return out


def ordered(reasons: Iterable[Reason]) -> tuple[list[Reason], list[Reason]]:
    """The reasons to show as "why" (deciding first, then the rest in their order) and the
    overridden ones, shown apart."""
    reasons = list(reasons)
    why = [r for r in reasons if r.effect == "decided"]
    why += [r for r in reasons if r.effect in ("supports", "info")]
    return why, [r for r in reasons if r.effect == "overridden"]


@dataclass
class Advice:
    """What both advisers return: a choice, the rules behind it, and warnings."""

    choice: str
    choice_label: str
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    title = "Advice"

    @property
    def deciding_reason(self) -> Reason:
        """The one reason whose effect is "decided"."""
        (reason,) = [r for r in self.reasons if r.effect == "decided"]
        return reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice,
            "choice_label": self.choice_label,
            "reasons": [r.to_dict() for r in self.reasons],
            "warnings": list(self.warnings),
        }

    def _headline_text(self) -> str:
        """A line shown right under the choice (what each option costs, say)."""
        return ""

    def _headline_html(self) -> str:
        return ""

    def _details_text(self) -> list[str]:
        return []

    def _details_html(self) -> str:
        return ""

    def __str__(self) -> str:
        why, overridden = ordered(self.reasons)
        lines = [f"{self.title}: {self.choice_label}"]
        if self._headline_text():
            lines.append(self._headline_text())
        lines += ["", "Why:"]
        lines += [_reason_line(r) for r in why]
        if overridden:
            lines += ["", NOT_FOLLOWED_HEADING]
            lines += [_reason_line(r) for r in overridden]
        if self.warnings:
            lines += ["", "Warnings:", *[f"  ! {w}" for w in self.warnings]]
        details = self._details_text()
        if details:
            lines += ["", *details]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        why, overridden = ordered(self.reasons)
        warnings = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        warn_block = (
            f"<div style='color:{WARNING_TEXT}'><b>Warnings</b><ul>{warnings}</ul></div>"
            if warnings
            else ""
        )
        not_followed = (
            f"<div style='opacity:.8'><b>{esc(NOT_FOLLOWED_HEADING.rstrip(':'))}</b>"
            f"<ul>{''.join(_reason_html(r) for r in overridden)}</ul></div>"
            if overridden
            else ""
        )
        return (
            f"<div class='labadvisor-advice {NO_MATH}' "
            "style='font-family:sans-serif;line-height:1.4'>"
            f"<div style='opacity:.7'>{esc(self.title)}</div>"
            f"<div style='font-size:1.5em;font-weight:bold'>{esc(self.choice_label)}</div>"
            f"{self._headline_html()}"
            f"<b>Why</b><ul>{''.join(_reason_html(r) for r in why)}</ul>"
            f"{not_followed}{warn_block}{self._details_html()}</div>"
        )


def _tag(reason: Reason) -> str:
    if reason.effect == "decided":
        return "decided"
    if reason.effect == "overridden":
        return f"pointed to {reason.points_to}"
    return reason.effect


def _reason_line(reason: Reason) -> str:
    return f"  - {reason.text}\n      [{reason.rule}] {reason.source} · {_tag(reason)}"


def _reason_html(reason: Reason) -> str:
    esc = html.escape
    text = esc(reason.text)
    if reason.effect == "decided":
        text = f"<b>{text}</b>"
    return (
        f"<li data-effect='{esc(reason.effect)}'>{text} <small style='opacity:.7'>"
        f"[{esc(reason.rule)}] {esc(reason.source)} · {esc(_tag(reason))}</small></li>"
    )


def html_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table (name, value) with a caption, for a result's notebook repr."""
    body = "".join(
        f"<tr><th {_CELL}>{html.escape(k)}</th><td {_CELL}>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    caption = f"<caption {_LEFT}><b>{html.escape(title)}</b></caption>"
    return f"<div class='{NO_MATH}'><table>{caption}{body}</table></div>"


def html_grid(title: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table with a header row and a caption, for a result's notebook repr."""
    head = "".join(f"<th {_CELL}>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td {_CELL}>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    caption = f"<caption {_LEFT}><b>{html.escape(title)}</b></caption>"
    return f"<div class='{NO_MATH}'><table>{caption}<tr>{head}</tr>{body}</table></div>"


_LEFT = "style='text-align:left'"
_CELL = "style='text-align:left;padding:2px 10px 2px 0'"
