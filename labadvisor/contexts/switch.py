"""``use()`` and ``using()``: point this kernel, or all docker clients of a user, at a context;
and the kernel environment that kernel-scope switching edits.

``DOCKER_HOST`` beats ``DOCKER_CONTEXT`` for the docker CLI and docker-py alike, so pointing the
kernel at a named context means setting ``DOCKER_HOST`` (and the TLS variables that only make
sense with it) aside. They are kept in :data:`kernel_env` and put back when the kernel returns
to "default", which is the context that ``DOCKER_HOST`` describes. :func:`follow_global` puts
every variable back as the kernel started with it (from the server), so the kernel follows the
global context again.

In a Jupyter kernel, every kernel-scope change is told to the server and recorded in the usage
ledger through :mod:`labadvisor.contexts.kernel_scope`; outside a kernel nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from labadvisor.contexts import kernel_scope, store
from labadvisor.contexts.deadline import check_timeout
from labadvisor.contexts.engine import DEFAULT_TIMEOUT, ping_stored
from labadvisor.contexts.errors import EngineUnreachableError, quoted, shortened
from labadvisor.contexts.resolve import Target, current, find, resolve
from labadvisor.explain import html_table

# DOCKER_HOST and the variables that only apply together with it.
HOST_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS")
CONTEXT_VARIABLE = "DOCKER_CONTEXT"
_WATCHED = (CONTEXT_VARIABLE, *HOST_VARIABLES)

# How long a switch to the local role looks at its engine before switching anyway.
LOCAL_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Snapshot:
    values: dict[str, str | None]
    set_aside: dict[str, str]


class KernelEnvironment:
    """This process's Docker variables and the DOCKER_HOST group a switch set aside."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._set_aside: dict[str, str] = {}
        # The variables as the process started with them: a kernel inherits the server's.
        self.launch: dict[str, str | None] = {v: os.environ.get(v) for v in _WATCHED}

    def set_aside(self) -> dict[str, str]:
        """The DOCKER_HOST group removed from the environment by the last switch, if any."""
        return dict(self._set_aside)

    def environment_with_set_aside(self) -> dict[str, str]:
        """os.environ as it will be once "default" is selected again (to describe that context)."""
        env = dict(os.environ)
        if self._set_aside and not env.get("DOCKER_HOST"):
            env.update(self._set_aside)
        return env

    def point_at(self, name: str) -> None:
        """Make ``name`` the context of this process (and of the subprocesses it starts)."""
        env = os.environ
        with self.lock:
            if name == store.DEFAULT_CONTEXT:
                if self._set_aside and not env.get("DOCKER_HOST"):
                    env.update(self._set_aside)
                    # DOCKER_HOST decides again, as it did before the first switch.
                    env.pop(CONTEXT_VARIABLE, None)
                else:
                    # Needed even without DOCKER_HOST: config.json may name another context.
                    env[CONTEXT_VARIABLE] = name
                self._set_aside.clear()
                return
            if env.get("DOCKER_HOST"):
                self._set_aside.clear()
                for variable in HOST_VARIABLES:
                    if variable in env:
                        self._set_aside[variable] = env.pop(variable)
            env[CONTEXT_VARIABLE] = name

    def follows_launch(self) -> bool:
        """Whether the Docker variables are as the process started with them (for a kernel:
        it follows the global context, as the server does)."""
        with self.lock:
            return {v: os.environ.get(v) for v in _WATCHED} == self.launch

    def return_to_launch(self) -> None:
        """Put every Docker variable back as the process started with it."""
        with self.lock:
            self.restore(Snapshot(dict(self.launch), {}))

    def snapshot(self) -> Snapshot:
        with self.lock:
            return Snapshot({v: os.environ.get(v) for v in _WATCHED}, dict(self._set_aside))

    def restore(self, saved: Snapshot) -> None:
        with self.lock:
            for variable, value in saved.values.items():
                if value is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = value
            self._set_aside.clear()
            self._set_aside.update(saved.set_aside)


kernel_env = KernelEnvironment()

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
    # Why the engine did not answer, when the switch went ahead anyway (the local role only).
    engine_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self, who: str | None = None) -> str:
        """One sentence; ``who`` names what switched (default: this kernel, or all docker
        clients for the global scope; the shell CLI says "this shell")."""
        if who is None:
            who = "this kernel" if self.scope == "kernel" else "all docker clients (config.json)"
        target = f"{self.context} ({self.role}, {self.host})"
        if not self.changed:
            text = f"Already on {target} for {who}; nothing changed"
        elif self.previous == self.context and self.scope == "kernel":
            text = f"Already on {target} for {who}; now set explicitly (DOCKER_CONTEXT)"
        elif self.previous == self.context:  # config.json named it; now it is the default
            text = f"Already on {target} for {who}"
        else:
            text = f"Switched to {target} for {who}"
        if self.checked and self.round_trip_ms is not None:
            text += f"; its engine answered in {self.round_trip_ms:.1f} ms"
        if self.changed and self.previous != self.context:
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
            ("engine", self._engine_state()),
        ]
        if self.note:
            rows.append(("note", self.note))
        switched = self.changed and self.previous != self.context
        return html_table("Docker context switched" if switched else "Docker context", rows)

    def _engine_state(self) -> str:
        if self.engine_error:
            return f"did not answer: {self.engine_error}"
        if self.checked and self.round_trip_ms is not None:
            return f"answered in {self.round_trip_ms:.1f} ms"
        return "not checked"


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
    scope="global" writes currentContext to config.json as ``docker context use`` does (the
    same JSON; other keys keep their order).
    With check=True the target engine must answer within ``timeout`` seconds first
    (0 < timeout <= 600; the call returns or fails within about that long, whatever the
    endpoint does). On any error nothing is changed.

    The local role is the exception: leaving Offload must always work, so "local" (and the
    context it stands for: desktop-linux if it exists, else default) is switched to even when
    its engine does not answer; the result then says why in ``engine_error`` and its note.
    """
    scope = _check_scope(scope)
    timeout = check_timeout(timeout)
    directory = store.config_dir()
    # Read config.json first in both scopes: a corrupted file stops us before anything changes.
    config = store.read_config(directory)
    chosen = find(target, directory)
    round_trip_ms: float | None = None
    engine_error: str | None = None
    is_local = find("local", directory).name == chosen.name
    if check:
        try:
            # The way back from Offload never waits long on the local engine: a short look,
            # then the switch goes ahead whatever it found.
            round_trip_ms = _check_engine(
                chosen, min(timeout, LOCAL_CHECK_SECONDS) if is_local else timeout
            )
        except EngineUnreachableError as exc:
            if not is_local:
                raise
            engine_error = exc.cause
    if scope == "kernel":
        with kernel_env.lock:
            before = kernel_env.snapshot()
            previous = resolve(environ=os.environ, directory=directory).name
            kernel_env.point_at(chosen.name)
            changed = kernel_env.snapshot() != before
        if changed:
            announce_kernel_context()
        aside = kernel_env.set_aside().get("DOCKER_HOST")
        note = (
            f"DOCKER_HOST={aside} is set aside until you switch back to 'default'"
            if aside
            else None
        )
        moved = changed and previous != chosen.name
        note = _joined(note, _dead_engine_note(chosen, engine_error, moved))
    else:
        previous = config.current_context or store.DEFAULT_CONTEXT
        changed = store.set_current_context(
            None if chosen.name == store.DEFAULT_CONTEXT else chosen.name, directory
        )
        aside = None
        moved = changed and previous != chosen.name
        note = _joined(
            _kernel_override_note(chosen.name, directory),
            _dead_engine_note(chosen, engine_error, moved),
        )
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
        engine_error=engine_error,
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
            inside = kernel_env.snapshot()
            kernel_env.restore(saved)
            if kernel_env.snapshot() != inside:
                announce_kernel_context()
        return
    directory = store.config_dir()
    previous = store.read_config(directory).current_context
    result = use(target, scope=scope, check=check, timeout=timeout)
    try:
        yield result
    finally:
        store.set_current_context(previous, directory)


def follow_global() -> SwitchResult:
    """Drop this kernel's own context: the Docker variables go back to what the kernel started
    with (the server's), so it follows the global context (config.json) again, and the
    server's status bar stops showing a context of its own for it."""
    with kernel_env.lock:
        before = kernel_env.snapshot()
        previous = resolve(environ=os.environ, directory=store.config_dir()).name
        kernel_env.return_to_launch()
        changed = kernel_env.snapshot() != before
    if changed:
        announce_kernel_context()
    now = current()
    return SwitchResult(
        context=now.name,
        role=now.role or "unknown",
        host=now.host,
        scope="kernel",
        previous=previous,
        changed=changed,
        checked=False,
        round_trip_ms=None,
        docker_host_set_aside=None,
        note="this kernel follows the global context again",
    )


def announce_kernel_context() -> None:
    """In a Jupyter kernel, tell the server (and the usage ledger) which context this kernel
    now uses, or that it follows the global one; nothing elsewhere. Never raises."""
    kernel = kernel_scope.this_kernel()
    if kernel is None:
        return
    if kernel_env.follows_launch():
        kernel_scope.announce(kernel, None, None, None)
        return
    try:
        now = current()
    except Exception as exc:  # a switch that happened must not fail here
        kernel_scope.log.warning("could not describe this kernel's context: %s", exc)
        return
    kernel_scope.announce(kernel, now.name, now.role, now.host)


def _check_engine(chosen: Target, timeout: float) -> float:
    """Round-trip milliseconds to the target's engine; refuses the switch if it does not answer."""
    try:
        return ping_stored(chosen.context, timeout=timeout)
    except EngineUnreachableError as exc:
        raise EngineUnreachableError(
            f"cannot switch to context {quoted(chosen.name)}: its engine at "
            f"{_shown(exc.endpoint)} did not answer ({exc.cause}); nothing was changed",
            context=exc.context,
            endpoint=exc.endpoint,
            cause=exc.cause,
        ) from exc


def _check_scope(scope: object) -> Scope:
    if scope == "kernel" or scope == "global":
        return scope
    raise ValueError(f"scope must be one of {', '.join(map(repr, SCOPES))}, got {quoted(scope)}")


def _shown(endpoint: str | None) -> str:
    if endpoint is None:
        return "no endpoint"
    return shortened(endpoint)


def _dead_engine_note(chosen: Target, engine_error: str | None, moved: bool) -> str | None:
    """Why the local engine is not usable; "switched anyway" only when the switch moved
    somewhere (already on the local context, nothing switched)."""
    if engine_error is None:
        return None
    silent = (
        f"the local engine at {_shown(chosen.context.host)} did not answer ({engine_error}), "
        f"so docker commands fail until it runs (start Docker Desktop or dockerd)"
    )
    return f"switched anyway, as the way back from Offload always is: {silent}" if moved else silent


def _joined(*notes: str | None) -> str | None:
    present = [note for note in notes if note]
    return "; ".join(present) if present else None


def _kernel_override_note(name: str, directory: Path) -> str | None:
    resolution = resolve(environ=os.environ, directory=directory)
    if resolution.source in ("DOCKER_HOST", "DOCKER_CONTEXT") and resolution.name != name:
        return (
            f"this kernel keeps using {resolution.name} because {resolution.source} is set; "
            f"use({name!r}) with scope='kernel' switches it too"
        )
    return None
