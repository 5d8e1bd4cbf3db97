"""Which context a ``docker`` command started from this process would use, and why; what the
user's words ("local", "offload" or a name) mean; and the list of contexts.

The docker CLI decides in this order: ``--context``, ``--host``, ``DOCKER_HOST``,
``DOCKER_CONTEXT``, ``currentContext`` in config.json, then ``default``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labadvisor.contexts import store
from labadvisor.contexts.errors import (
    AmbiguousContextError,
    ContextError,
    ContextNotFoundError,
    InvalidContextNameError,
    quoted,
    shortened,
)
from labadvisor.explain import html_grid, html_table

if TYPE_CHECKING:
    from labadvisor.contexts.switch import KernelEnvironment

ROLES = ("local", "offload")
OFFLOAD_CONTEXT = "docker-cloud"  # the context `docker offload start` creates
DESKTOP_CONTEXT = "desktop-linux"  # Docker Desktop's local engine
# Docker Offload's endpoint is a unix socket under ~/.docker/cloud/.
_OFFLOAD_SOCKET_MARK = "/.docker/cloud/"
OFFLOAD_HINT = (
    "start Docker Offload with `docker offload start` (needs Docker Desktop 4.50 or later), "
    "which creates the docker-cloud context"
)


def role_of(name: str, host: str | None) -> str:
    """What kind of engine a context points at: "offload", "local" or "remote"."""
    if name == OFFLOAD_CONTEXT or (
        host is not None and host.startswith("unix://") and _OFFLOAD_SOCKET_MARK in host
    ):
        return "offload"
    if name in ("default", DESKTOP_CONTEXT) or (
        host is not None and host.startswith(("unix://", "npipe://"))
    ):
        return "local"
    return "remote"


# --- targets: what the user typed, as exactly one stored context -------------------------------


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
        return store.default_context(_kernel_env().environment_with_set_aside(), directory)
    stored = store.read_meta(name, directory)
    if stored is not None:
        return stored
    message = f"no Docker context named {quoted(name)} in {directory / 'contexts'}"
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


# Names longer than this get no "did you mean".
_LONGEST_TYPO = 200


def _names(directory: Path) -> list[str]:
    try:
        return [store.DEFAULT_CONTEXT, *(s.name for s in store.read_all(directory))]
    except ContextError:
        # A broken store must not hide the real error behind a second one.
        return [store.DEFAULT_CONTEXT]


def _valid_targets(directory: Path) -> str:
    names = ", ".join(shortened(name) for name in _names(directory))
    return f"valid contexts: {names}; roles: {', '.join(ROLES)}"


def _suggest(name: str, directory: Path) -> str | None:
    if len(name) > _LONGEST_TYPO:
        return None  # no typo of a real name is that long; difflib would take its time
    choices = [*_names(directory), *ROLES]
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return close[0] if close else None


# --- resolution: the context in effect for this process -----------------------------------------


@dataclass(frozen=True)
class Resolution:
    """The bare decision: a name, what decided it, and the host a flag or DOCKER_HOST gave."""

    name: str
    source: str  # "--context", "--host", "DOCKER_HOST", "DOCKER_CONTEXT", "config.json", "default"
    reason: str
    host_override: str | None = None


@dataclass(frozen=True)
class CurrentContext:
    """The context in effect for this process, as returned by :func:`current`."""

    name: str
    host: str | None
    role: str | None
    source: str
    reason: str
    exists: bool
    config_path: str
    docker_host_set_aside: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        where = f" at {self.host}" if self.host else ""
        role = f" ({self.role})" if self.role else ""
        text = f"<current Docker context: {self.name}{role}{where}; {self.reason}>"
        return text

    def _repr_html_(self) -> str:
        rows = [
            ("context", self.name),
            ("role", self.role or "unknown"),
            ("endpoint", self.host or "none"),
            ("decided by", self.reason),
        ]
        if self.docker_host_set_aside:
            rows.append(("DOCKER_HOST set aside", self.docker_host_set_aside))
        return html_table("Current Docker context", rows)


def resolve(
    *,
    environ: Mapping[str, str],
    directory: Path,
    context_flag: str | None = None,
    host_flag: str | None = None,
) -> Resolution:
    """Apply the CLI's precedence; ``context_flag``/``host_flag`` stand for --context/--host."""
    if context_flag and host_flag:
        raise ContextError("conflicting options: either specify --host or --context, not both")
    if context_flag:
        return Resolution(context_flag, "--context", f"--context {context_flag} was given")
    if host_flag:
        return Resolution(
            store.DEFAULT_CONTEXT,
            "--host",
            f"--host {host_flag} selects the default context",
            host_override=host_flag,
        )
    host = environ.get("DOCKER_HOST")
    if host:
        beats = (
            f", overriding DOCKER_CONTEXT={shortened(environ['DOCKER_CONTEXT'])}"
            if environ.get("DOCKER_CONTEXT")
            else ""
        )
        return Resolution(
            store.DEFAULT_CONTEXT,
            "DOCKER_HOST",
            f"DOCKER_HOST={shortened(host)} is set, which selects the default context{beats}",
            host_override=host,
        )
    name = environ.get("DOCKER_CONTEXT")
    if name:
        return Resolution(
            name, "DOCKER_CONTEXT", f"DOCKER_CONTEXT={shortened(name)} is set in the environment"
        )
    config = store.read_config(directory)
    if config.current_context:
        return Resolution(config.current_context, "config.json", f"currentContext in {config.path}")
    return Resolution(
        store.DEFAULT_CONTEXT,
        "default",
        "nothing selects another context (no DOCKER_HOST, DOCKER_CONTEXT or currentContext)",
    )


def current_stored() -> tuple[Resolution, store.StoredContext | None]:
    """The resolution for this process and the stored context it names (None if missing)."""
    env = os.environ
    directory = store.config_dir(env)
    resolution = resolve(environ=env, directory=directory)
    if resolution.name == store.DEFAULT_CONTEXT:
        return resolution, store.default_context(env, directory)
    try:
        store.check_name(resolution.name)
    except InvalidContextNameError:
        return resolution, None
    return resolution, store.read_meta(resolution.name, directory)


def current() -> CurrentContext:
    """The context this kernel's ``docker`` commands (and ``client()``) would use right now."""
    resolution, stored = current_stored()
    reason = resolution.reason
    if stored is None:
        reason += "; but no such context exists, so docker commands will fail"
    return CurrentContext(
        name=resolution.name,
        host=stored.host if stored else None,
        role=role_of(stored.name, stored.host) if stored else None,
        source=resolution.source,
        reason=reason,
        exists=stored is not None,
        config_path=str(store.config_dir() / "config.json"),
        docker_host_set_aside=_kernel_env().set_aside().get("DOCKER_HOST"),
    )


# --- listing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextInfo:
    """One entry of :func:`list_contexts`."""

    name: str
    host: str | None
    description: str
    tls: bool
    current: bool
    role: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        mark = " (current)" if self.current else ""
        return f"<context {self.name}{mark}: {self.role}, {self.host or 'no docker endpoint'}>"


class ContextList(list[ContextInfo]):
    """A plain list of :class:`ContextInfo` that shows as a table in a notebook."""

    def to_list(self) -> list[dict[str, Any]]:
        return [info.to_dict() for info in self]

    def _repr_html_(self) -> str:
        rows = [
            (
                info.name + (" *" if info.current else ""),
                info.role,
                info.host or "",
                "yes" if info.tls else "no",
                info.description,
            )
            for info in self
        ]
        header = ("context", "role", "endpoint", "TLS", "description")
        return html_grid("Docker contexts (* = current)", header, rows)


def list_contexts() -> ContextList:
    """Every context, "default" first, as the docker CLI's ``context ls`` would show them.

    The default entry shows a DOCKER_HOST that ``use()`` set aside, since that is where
    ``use("default")`` leads back to.
    """
    env = os.environ
    directory = store.config_dir(env)
    stored = [
        store.default_context(_kernel_env().environment_with_set_aside(), directory),
        *store.read_all(directory),
    ]
    current_name = resolve(environ=env, directory=directory).name
    return ContextList(
        ContextInfo(
            name=entry.name,
            host=entry.host,
            description=entry.description,
            tls=entry.tls,
            current=entry.name == current_name,
            role=role_of(entry.name, entry.host),
        )
        for entry in stored
    )


def _kernel_env() -> KernelEnvironment:
    # The record of a DOCKER_HOST set aside lives with the code that sets it aside; switch
    # imports this module, so it is looked up when first needed.
    from labadvisor.contexts.switch import kernel_env

    return kernel_env


def stored_context(context: str | None) -> store.StoredContext:
    """The named context (or role), or the one in effect for this process when None."""
    if context is not None:
        return find(context, store.config_dir()).context
    resolution, stored = current_stored()
    if stored is None:
        raise ContextNotFoundError(
            f"the current context {quoted(resolution.name)} does not exist ({resolution.reason})"
        )
    return stored
