"""Reading a TOML table into typed values, each checked, each error naming the setting.

The guide data is built into frozen dataclasses through :class:`Table`: every value is read
by a method that checks its type and range, so a record's fields are typed and a bad value
(from the packaged files or a user override) is reported as ``offload-vs-local.rules.
gpu-fits.headroom_fraction must be ... got 1.5`` when it is loaded, not used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from labadvisor.templates import Template, parse_template

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """What every guide fact carries: a stable id and the guide section it comes from."""

    id: str
    section: str


@dataclass(frozen=True)
class Rule(Entry):
    """A rule labadvisor states in its reasons; ``warning`` when it can also warn."""

    text: Template
    warning: Template | None


@dataclass(frozen=True)
class ArbitrationStep(Entry):
    """One step of the order in which an adviser's rules win (``[[arbitration]]``)."""

    summary: str
    # Ends the text of each rule this step overrides: "Not followed: {because}."
    because: Template


class Table:
    """One TOML table at ``path``; read each key once, then call :meth:`done`."""

    def __init__(self, raw: object, path: str) -> None:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{path} must be a table, got {raw!r}")
        self.raw: Mapping[str, Any] = raw
        self.path = path
        self._read: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def _value(self, key: str) -> Any:
        self._read.add(key)
        if key not in self.raw:
            raise ValueError(f"{self.path} needs a value for {key!r}")
        return self.raw[key]

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def text(self, key: str) -> str:
        value = self._value(key)
        if not isinstance(value, str):
            raise ValueError(f"{self.where(key)} must be a string, got {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._absent(key) else self.text(key)

    def boolean(self, key: str) -> bool:
        value = self._value(key)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where(key)} must be true or false, got {value!r}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._value(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{self.where(key)} must be a list of strings, got {value!r}")
        return tuple(value)

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        below: float | None = None,
        above: float | None = None,
    ) -> float:
        """A finite number within ``minimum``/``maximum`` (inclusive), ``above``/``below``
        (exclusive)."""
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.where(key)} must be a number, got {value!r}")
        number = float(value)
        bounds = [
            (minimum, ">=", minimum is None or number >= minimum),
            (above, ">", above is None or number > above),
            (maximum, "<=", maximum is None or number <= maximum),
            (below, "<", below is None or number < below),
        ]
        if not math.isfinite(number) or not all(ok for _, _, ok in bounds):
            wanted = " and ".join(f"{op} {bound:g}" for bound, op, _ in bounds if bound is not None)
            raise ValueError(
                f"{self.where(key)} must be a finite number{' ' + wanted if wanted else ''}, "
                f"got {value!r}"
            )
        return number

    def optional_number(self, key: str, **bounds: float) -> float | None:
        return None if self._absent(key) else self.number(key, **bounds)

    def whole(self, key: str, *, minimum: int = 0) -> int:
        """A whole number of at least ``minimum`` (``26.0`` counts as 26)."""
        value = self._value(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(
                f"{self.where(key)} must be a whole number of at least {minimum}, got {value!r}"
            )
        return value

    def optional_whole(self, key: str, *, minimum: int = 0) -> int | None:
        return None if self._absent(key) else self.whole(key, minimum=minimum)

    def wholes(self, key: str, *, minimum: int = 0) -> tuple[int, ...]:
        value = self._value(key)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value
        ):
            raise ValueError(
                f"{self.where(key)} must be a list of whole numbers of at least {minimum}, "
                f"got {value!r}"
            )
        return tuple(value)

    def one_of(self, key: str, options: tuple[T, ...]) -> T:
        value = self._value(key)
        for option in options:
            if value == option:
                return option
        valid = ", ".join(map(str, options))
        raise ValueError(f"{self.where(key)} must be one of {valid}, got {value!r}")

    def optional_one_of(self, key: str, options: tuple[T, ...]) -> T | None:
        return None if self._absent(key) else self.one_of(key, options)

    def template(self, key: str, supplied: Mapping[str, Any]) -> Template:
        """A text template that may use the table's own scalar values and ``supplied``
        (field name -> an example value of the type the code passes)."""
        text = self.text(key)
        constants = {
            k: v
            for k, v in self.raw.items()
            if isinstance(v, (str, int, float)) and not k.endswith("text") and k != "warning"
        }
        return parse_template(text, path=self.where(key), supplied=supplied, constants=constants)

    def table(self, key: str) -> Table:
        return Table(self._value(key), self.where(key))

    def tables(self, key: str) -> list[Table]:
        """The entries of a list of tables, each with its path by id: ``path.key[id]``."""
        value = self._value(key)
        if not isinstance(value, list):
            raise ValueError(f"{self.where(key)} must be a list of tables, got {value!r}")
        out = []
        for position, entry in enumerate(value):
            ident = entry.get("id") if isinstance(entry, Mapping) else None
            label = ident if isinstance(ident, str) else position
            out.append(Table(entry, f"{self.where(key)}[{label}]"))
        return out

    def named_tables(self, key: str) -> dict[str, Table]:
        """A table of tables (``[choices.local-cpu]``), by name."""
        outer = self.table(key)
        return {name: outer.table(name) for name in outer.raw}

    def string_map(self, key: str) -> dict[str, str]:
        value = self._value(key)
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{self.where(key)} must be a table of strings, got {value!r}")
        return dict(value)

    def number_map(self, key: str, *, above: float) -> dict[str, float]:
        inner = self.table(key)
        return {name: inner.number(name, above=above) for name in inner.raw}

    def done(self) -> None:
        """Refuse keys nobody read (a typo in a user-added entry, or data the code ignores)."""
        unknown = set(self.raw) - self._read
        if unknown:
            raise ValueError(
                f"{self.path}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"valid keys: {', '.join(sorted(self._read))}"
            )

    def _absent(self, key: str) -> bool:
        """True (and the key counted as read) when an optional key is not given."""
        self._read.add(key)
        return key not in self.raw


def read_rule(
    rules: Table,
    key: str,
    text: Mapping[str, Any] | None,
    warning: Mapping[str, Any] | None = None,
) -> Rule:
    """The rule ``rules.key``: a ``text`` template when ``text`` (its fields) is given, a
    ``warning`` template when ``warning`` is."""
    t = rules.table(key)
    rule = Rule(
        id=t.text("id"),
        section=t.text("section"),
        text=t.template("text", text) if text is not None else _NO_TEXT,
        warning=t.template("warning", warning) if warning is not None else None,
    )
    t.done()
    return rule


_NO_TEXT = Template("", (), {})


def unique(values: Iterable[str], what: str, path: str) -> None:
    """Raise ValueError when a value repeats (ids, names, aliases)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{path}: {what} {value!r} appears more than once")
        seen.add(value)


def read_arbitration(top: Table, supplied: Mapping[str, Any]) -> tuple[ArbitrationStep, ...]:
    """The ``[[arbitration]]`` steps in their order; each adviser checks its own ids."""
    steps = []
    for t in top.tables("arbitration"):
        steps.append(
            ArbitrationStep(
                id=t.text("id"),
                section=t.text("section"),
                summary=t.text("summary"),
                because=t.template("because", supplied),
            )
        )
        t.done()
    return tuple(steps)
