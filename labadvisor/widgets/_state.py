"""What the runtime and deployment states share: inputs held as traits, and their advice.

States are :class:`traitlets.HasTraits`, which does not import ipywidgets: scripts and tests
drive them without a front end, and views ``traitlets.link`` their controls to the input
traits and observe the rest (``state.observe(callback, names="advice")``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from traitlets import Dict, Enum, HasTraits, TraitError, Unicode

from labadvisor.explain import Advice

T = TypeVar("T")


@dataclass(frozen=True)
class FieldRange:
    """The values a typed number input accepts, and the label a person sees it under: the
    panel's control shows that label, and the range error names it."""

    label: str
    minimum: float
    maximum: float
    strict_minimum: bool = False  # the minimum itself is not allowed

    def problem(self, value: float) -> str | None:
        """None for a value in range, else what is wrong, in the form's words."""
        too_low = value <= self.minimum if self.strict_minimum else value < self.minimum
        if math.isfinite(value) and not too_low and value <= self.maximum:
            return None
        return f"{self.label} must be {self.describe()}; got {_number(value)}"

    def describe(self) -> str:
        low, high = _number(self.minimum), _number(self.maximum)
        if self.strict_minimum:
            return f"greater than {low} and at most {high}"
        return f"between {low} and {high}"


class AdviceState(HasTraits):
    """The traits named in ``input_names`` are an adviser's inputs; changing any of them
    re-advises at once.

    A typed number outside its :class:`FieldRange` (``limits``) is kept as typed, never
    clamped: ``field_errors`` then maps the input's name to a message naming the value and
    the valid range by the field's label, and ``advice`` (and ``error``) stay what they were
    for the last valid inputs, so a view can show them as not updated (``up_to_date`` is
    False). A value the adviser itself rejects is kept too: the advice becomes None and
    ``error`` holds the library's message, naming the valid values. A value no input of
    that kind can hold (a word for ``team_size``) or an unknown input name is refused with
    a ValueError that names it. An input holding None (not stated, or the guide's value
    while the guide cannot be read) has no range to check."""

    subject: ClassVar[str]  # what the inputs are for, in messages: "runtime", "deployment"
    input_names: ClassVar[tuple[str, ...]]
    limits: ClassVar[dict[str, FieldRange]] = {}

    error = Unicode(None, allow_none=True)
    field_errors = Dict(key_trait=Unicode(), value_trait=Unicode())

    def __init__(self, **inputs: Any) -> None:
        self._batch_changed: bool | None = None  # inside set(): whether an input changed
        super().__init__()
        self._assign(inputs)
        self.observe(self._input_changed, names=list(self.input_names))
        self._advise()

    @property
    def inputs(self) -> dict[str, Any]:
        """The inputs as keyword arguments (what ``set`` and the constructor take)."""
        return {name: getattr(self, name) for name in self.input_names}

    def set(self, **changes: Any) -> None:
        """Change several inputs and re-advise once."""
        self._batch_changed = False
        try:
            self._assign(changes)
        finally:  # also when a later value was refused: re-advise for the ones taken
            changed, self._batch_changed = self._batch_changed, None
            if changed:
                self._advise()

    @property
    def up_to_date(self) -> bool:
        """Whether the advice is for the current inputs (no typed value is out of range)."""
        return not self.field_errors

    def current_advice(self) -> Advice | None:
        raise NotImplementedError

    def ranged_inputs(self) -> tuple[str, ...]:
        """The inputs with a range that the current inputs use (all, unless a subclass
        leaves out the ones a mode ignores)."""
        return tuple(self.limits)

    def _advise(self) -> None:
        errors = {
            name: message
            for name in self.ranged_inputs()
            if (value := getattr(self, name)) is not None
            and (message := self.limits[name].problem(value)) is not None
        }
        if errors:
            self.field_errors = errors  # the last answer stays, shown as not updated
            return
        with self.hold_trait_notifications():
            self.field_errors = {}
            self._update_advice()

    def _update_advice(self) -> None:
        """Set the advice (and ``error``) for the current inputs, all in range."""
        raise NotImplementedError

    def _assign(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(self.input_names)
        if unknown:
            raise ValueError(
                f"unknown {self.subject} input(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(self.input_names)}"
            )
        for name, value in changes.items():
            try:
                setattr(self, name, value)
            except TraitError:
                raise ValueError(
                    f"{self.subject} input {name} must be {_expected(self.traits()[name])}, "
                    f"got {value!r}"
                ) from None

    def _keep_canonical(self, **values: Any) -> None:
        """Store the adviser's own spelling of inputs ("compose" → "docker-compose"), so
        views can show them, without advising again."""
        outer = self._batch_changed
        self._batch_changed = False
        try:
            for name, value in values.items():
                setattr(self, name, value)
        finally:
            self._batch_changed = outer

    def _input_changed(self, change: Any) -> None:
        if self._batch_changed is None:
            self._advise()
        else:
            self._batch_changed = True


def guide_value(read: Callable[[], T]) -> T | None:
    """A guide's default for an input, or None while the guide cannot be read: building a
    state never raises for that; advising with None (the guide's value) then fails with the
    library's message as the state's ``error``."""
    try:
        return read()
    except (ValueError, OSError):
        return None


def problem(exc: ValueError | OSError) -> str:
    """What a panel shows when advising failed: the library's message, or for a file it
    could not read (an unreadable override file, say) which file and why."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot read {exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _number(value: float) -> str:
    """-5, 10,000, 1,000,000,000, 2.5: as a person would type or read it."""
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e18:
        return f"{int(value):,}"
    return f"{value:,g}"


def _expected(trait: Any) -> str:
    if isinstance(trait, Enum):
        return "one of " + ", ".join(str(value) for value in trait.values or ())
    return str(trait.info())
