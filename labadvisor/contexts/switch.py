"""``use()`` and ``using()``: point this kernel, or all docker clients of a user, at a context."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from labadvisor.contexts import configfile, kernel_env, store
from labadvisor.contexts.display import html_table
from labadvisor.contexts.engine import DEFAULT_TIMEOUT, ping_stored
from labadvisor.contexts.errors import EngineUnreachableError
from labadvisor.contexts.resolve import resolve
from labadvisor.contexts.targets import find
from labadvisor.units import check_finite_number

Scope = Literal["kernel", "global"]
SCOPES: tuple[Scope, ...] = ("kernel", "global")


@dataclass(frozen=True)
class SwitchResult:
    """What :func:`use` did."""

    context: str
    role: str
    host: str | None
    scope: str
    previous: str
    changed: bool
    checked: bool
    round_trip_ms: float | None
    docker_host_set_aside: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        who = "this kernel" if self.scope == "kernel" else "all docker clients (config.json)"
        verb = "Switched" if self.changed else "Already on"
        text = f"{verb} {self.context} ({self.role}, {self.host}) for {who}"
        if self.checked and self.round_trip_ms is not None:
            text += f"; its engine answered in {self.round_trip_ms:.1f} ms"
        if self.changed:
            text += f"; was {self.previous}"
        if self.note:
            text += f". {self.note}"
        return text

    def __repr__(self) -> str:
        return f"<SwitchResult {self.summary()}>"

    def _repr_html_(self) -> str:
        rows = [
            ("context", f"{self.context} ({self.role})"),
            ("endpoint", self.host or "none"),
            ("scope", self.scope),
            ("previous", self.previous),
            (
                "engine",
                f"answered in {self.round_trip_ms:.1f} ms" if self.checked else "not checked",
            ),
        ]
        if self.note:
            rows.append(("note", self.note))
        return html_table("Docker context switched" if self.changed else "Docker context", rows)


def use(
    target: str,
    *,
    scope: Scope = "kernel",
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> SwitchResult:
    """Switch to ``target``: a context name, or the role "local" or "offload".

    scope="kernel" (default) changes only this process: DOCKER_CONTEXT is set (a DOCKER_HOST
    that would override it is set aside until you switch back to "default"), so ``!docker`` in
    the notebook, docker-py's ``from_env()`` and :func:`client` follow; config.json is untouched.
    scope="global" writes currentContext to config.json exactly as ``docker context use`` does.
    With check=True the target engine must answer within ``timeout`` seconds first. On any
    error nothing is changed.
    """
    scope = _check_scope(scope)
    timeout = check_finite_number(timeout, "timeout", minimum=0, strict_minimum=True)
    directory = store.config_dir()
    # Read config.json first in both scopes: a corrupted file stops us before anything changes.
    config = store.read_config(directory)
    chosen = find(target, directory)
    round_trip_ms = None
    if check:
        try:
            round_trip_ms = ping_stored(chosen.context, timeout=timeout)
        except EngineUnreachableError as exc:
            raise EngineUnreachableError(
                f"cannot switch to context {chosen.name!r}: its engine at {exc.endpoint} did not "
                f"answer ({exc.cause}); nothing was changed",
                context=exc.context,
                endpoint=exc.endpoint,
                cause=exc.cause,
            ) from exc
    if scope == "kernel":
        with kernel_env.lock:
            before = kernel_env.snapshot()
            previous = resolve(environ=os.environ, directory=directory).name
            kernel_env.point_at(chosen.name)
            changed = kernel_env.snapshot() != before
        aside = kernel_env.set_aside().get("DOCKER_HOST")
        note = (
            f"DOCKER_HOST={aside} is set aside until you switch back to 'default'"
            if aside
            else None
        )
    else:
        previous = config.current_context or store.DEFAULT_CONTEXT
        changed = configfile.set_current_context(
            None if chosen.name == store.DEFAULT_CONTEXT else chosen.name, directory
        )
        aside = None
        note = _kernel_override_note(chosen.name, directory)
    return SwitchResult(
        context=chosen.name,
        role=chosen.role,
        host=chosen.context.host,
        scope=scope,
        previous=previous,
        changed=changed,
        checked=check,
        round_trip_ms=round_trip_ms,
        docker_host_set_aside=aside,
        note=note,
    )


@contextlib.contextmanager
def using(
    target: str,
    *,
    scope: Scope = "kernel",
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[SwitchResult]:
    """Switch for the duration of a ``with`` block; the previous state is restored on exit,
    also when the block raises. If the switch itself fails, nothing was changed."""
    scope = _check_scope(scope)
    if scope == "kernel":
        saved = kernel_env.snapshot()
        result = use(target, scope=scope, check=check, timeout=timeout)
        try:
            yield result
        finally:
            kernel_env.restore(saved)
        return
    directory = store.config_dir()
    previous = store.read_config(directory).current_context
    result = use(target, scope=scope, check=check, timeout=timeout)
    try:
        yield result
    finally:
        configfile.set_current_context(previous, directory)


def _check_scope(scope: object) -> Scope:
    if scope == "kernel" or scope == "global":
        return scope
    raise ValueError(f"scope must be one of {', '.join(map(repr, SCOPES))}, got {scope!r}")


def _kernel_override_note(name: str, directory: Path) -> str | None:
    resolution = resolve(environ=os.environ, directory=directory)
    if resolution.source in ("DOCKER_HOST", "DOCKER_CONTEXT") and resolution.name != name:
        return (
            f"this kernel keeps using {resolution.name} because {resolution.source} is set; "
            f"use({name!r}) with scope='kernel' switches it too"
        )
    return None
