"""Which context a ``docker`` command started from this process would use, and why.

The docker CLI decides in this order: ``--context``, ``--host``, ``DOCKER_HOST``,
``DOCKER_CONTEXT``, ``currentContext`` in config.json, then ``default``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labadvisor.contexts import kernel_env, store
from labadvisor.contexts.display import html_table
from labadvisor.contexts.errors import ContextError, InvalidContextNameError
from labadvisor.contexts.roles import role_of


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
            f", overriding DOCKER_CONTEXT={environ['DOCKER_CONTEXT']}"
            if environ.get("DOCKER_CONTEXT")
            else ""
        )
        return Resolution(
            store.DEFAULT_CONTEXT,
            "DOCKER_HOST",
            f"DOCKER_HOST={host} is set, which selects the default context{beats}",
            host_override=host,
        )
    name = environ.get("DOCKER_CONTEXT")
    if name:
        return Resolution(
            name, "DOCKER_CONTEXT", f"DOCKER_CONTEXT={name} is set in the environment"
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
        docker_host_set_aside=kernel_env.set_aside().get("DOCKER_HOST"),
    )
