"""Text templates from the guide data, checked when loaded and rendered without ``str.format``.

A template such as ``"The model takes {size_gb:.3g} GB"`` may use only plain field names
(no ``{x.attr}``, ``{x[0]}``, ``{x!r}`` or nested ``{x:{y}}``) with a short standard
format spec, and only the fields its caller declares. Templates come from user overrides,
so anything else is refused when the data is loaded or configured, naming the setting,
instead of failing (or doing something surprising) when advice is rendered later.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Python's format-spec mini-language with width and precision of at most two digits
# (a spec like ":>999999999" would build a gigabyte of padding).
_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?\d{0,2}[,_]?(?:\.\d{1,2})?[bcdeEfFgGnosxX%]?\Z")


@dataclass(frozen=True)
class Template:
    """A parsed template: its source, its pieces, and the values it carries with it.

    ``constants`` are the values of the data entry the template belongs to (e.g. a tier's
    ``below_gb``); the caller supplies the rest when rendering.
    """

    source: str
    # (literal text, field name or None, format spec), in order
    pieces: tuple[tuple[str, str | None, str], ...] = field(repr=False)
    constants: Mapping[str, Any] = field(repr=False)

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(name for _, name, _ in self.pieces if name is not None)

    def render(self, **values: Any) -> str:
        """The text with every field filled; ``values`` win over the entry's constants."""
        merged = {**self.constants, **values} if values else self.constants
        return "".join(
            literal + ("" if name is None else format(merged[name], spec))
            for literal, name, spec in self.pieces
        )

    def __str__(self) -> str:
        return self.source


def parse_template(
    text: str, *, path: str, supplied: Mapping[str, Any], constants: Mapping[str, Any]
) -> Template:
    """Check ``text`` and parse it, or raise ValueError naming ``path``.

    ``supplied`` maps each field the code passes when rendering to an example value of its
    type; ``constants`` are the entry's own values. The template is rendered once with
    both, so a format spec that does not suit its value (``{label:.1f}``) fails here too.
    """
    valid = sorted({*supplied, *constants})
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{path}: not a valid template ({exc}): {text!r}") from None
    pieces: list[tuple[str, str | None, str]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None, ""))
            continue
        if not _NAME.match(name):
            raise ValueError(
                f"{path}: placeholder {{{name}}} is not a plain field name; "
                f"valid placeholders: {', '.join(valid)}"
            )
        if conversion is not None:
            raise ValueError(f"{path}: placeholder {{{name}!{conversion}}} uses a conversion")
        spec = spec or ""
        if not _SPEC.match(spec):
            raise ValueError(
                f"{path}: placeholder {{{name}:{spec}}} has an unsupported format spec "
                "(use a short one such as :.1f, :g or :,.0f)"
            )
        if name not in supplied and name not in constants:
            raise ValueError(
                f"{path}: unknown placeholder {{{name}}}; valid placeholders: {', '.join(valid)}"
            )
        pieces.append((literal, name, spec))
    template = Template(text, tuple(pieces), dict(constants))
    try:
        template.render(**supplied)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc} in template {text!r}") from None
    return template
