"""What the runtime and deployment states share: inputs held as traits, and their advice.

States are :class:`traitlets.HasTraits`, which does not import ipywidgets: scripts and tests
drive them without a front end, and views ``traitlets.link`` their controls to the input
traits and observe the rest (``state.observe(callback, names="advice")``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from traitlets import Enum, HasTraits, TraitError, Unicode

from labadvisor.explain import Advice


class AdviceState(HasTraits):
    """The traits named in ``input_names`` are an adviser's inputs; changing any of them
    re-advises at once. A value the adviser rejects is kept: the advice becomes None and
    ``error`` holds the library's message, naming the valid values. A value no input of
    that kind can hold (a word for ``team_size``) or an unknown input name is refused with
    a ValueError that names it."""

    subject: ClassVar[str]  # what the inputs are for, in messages: "runtime", "deployment"
    input_names: ClassVar[tuple[str, ...]]

    error = Unicode(None, allow_none=True)

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

    def current_advice(self) -> Advice | None:
        raise NotImplementedError

    def _advise(self) -> None:
        """Set the advice (and ``error``) for the current inputs."""
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


def _expected(trait: Any) -> str:
    if isinstance(trait, Enum):
        return "one of " + ", ".join(str(value) for value in trait.values or ())
    return str(trait.info())
