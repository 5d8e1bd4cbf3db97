"""Turn what the user typed (a context name or a role) into exactly one stored context."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from labadvisor.contexts import kernel_env, store
from labadvisor.contexts.errors import (
    AmbiguousContextError,
    ContextError,
    ContextNotFoundError,
    InvalidContextNameError,
)
from labadvisor.contexts.roles import DESKTOP_CONTEXT, OFFLOAD_CONTEXT, ROLES, role_of

OFFLOAD_HINT = (
    "start Docker Offload with `docker offload start` (needs Docker Desktop 4.50 or later), "
    "which creates the docker-cloud context"
)


@dataclass(frozen=True)
class Target:
    context: store.StoredContext
    role: str

    @property
    def name(self) -> str:
        return self.context.name


def find(target: object, directory: Path) -> Target:
    """Role words always mean the role: "local" is desktop-linux if it exists, else default;
    "offload" is docker-cloud if it exists, else the one context whose endpoint is under
    ~/.docker/cloud/. Any other string is a context name."""
    if isinstance(target, str) and target in ROLES:
        stored = _by_role(target, directory)
    else:
        try:
            name = store.check_name(target)
        except InvalidContextNameError as exc:
            raise InvalidContextNameError(f"{exc}; {_valid_targets(directory)}") from None
        stored = _by_name(name, directory)
    return Target(stored, role_of(stored.name, stored.host))


def _by_name(name: str, directory: Path) -> store.StoredContext:
    if name == store.DEFAULT_CONTEXT:
        return store.default_context(kernel_env.environment_with_set_aside(), directory)
    stored = store.read_meta(name, directory)
    if stored is not None:
        return stored
    message = f"no Docker context named {name!r} in {directory / 'contexts'}"
    if name == OFFLOAD_CONTEXT:
        message += f"; {OFFLOAD_HINT}"
    elif name == DESKTOP_CONTEXT:
        message += "; it is created by Docker Desktop, which does not seem to be set up here"
    suggestion = _suggest(name, directory)
    if suggestion:
        message += f"; did you mean {suggestion!r}?"
    raise ContextNotFoundError(f"{message}; {_valid_targets(directory)}")


def _by_role(role: str, directory: Path) -> store.StoredContext:
    if role == "local":
        desktop = store.read_meta(DESKTOP_CONTEXT, directory)
        return desktop or _by_name(store.DEFAULT_CONTEXT, directory)
    candidates = [s for s in store.read_all(directory) if role_of(s.name, s.host) == "offload"]
    preferred = [s for s in candidates if s.name == OFFLOAD_CONTEXT]
    if preferred:
        return preferred[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ContextNotFoundError(
            f"no Docker Offload context in {directory / 'contexts'} (none named "
            f"{OFFLOAD_CONTEXT!r}, none with an endpoint under ~/.docker/cloud/); {OFFLOAD_HINT}"
        )
    names = ", ".join(s.name for s in candidates)
    raise AmbiguousContextError(
        f"several contexts look like Docker Offload ({names}) and none is named "
        f"{OFFLOAD_CONTEXT!r}; pick one by name, e.g. use({candidates[0].name!r})"
    )


def _names(directory: Path) -> list[str]:
    try:
        return [store.DEFAULT_CONTEXT, *(s.name for s in store.read_all(directory))]
    except ContextError:
        # A broken store must not hide the real error behind a second one.
        return [store.DEFAULT_CONTEXT]


def _valid_targets(directory: Path) -> str:
    return f"valid contexts: {', '.join(_names(directory))}; roles: {', '.join(ROLES)}"


def _suggest(name: str, directory: Path) -> str | None:
    choices = [*_names(directory), *ROLES]
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return close[0] if close else None
