"""The blocking calls behind the API, run in the extension's pools: plain functions of the
library, with the library's errors turned into what the handlers answer."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from labadvisor.server import limits
from labadvisor.server.limits import BadRequest

# `docker offload stop` waits for the cloud session to end; past this the engine-check
# thread is given back and the request answers 502.
OFFLOAD_STOP_SECONDS = 60.0

if TYPE_CHECKING:
    from labadvisor.contexts import SwitchResult
    from labadvisor.contexts.offload import OffloadStatus
    from labadvisor.server.meter import ServerContext
    from labadvisor.usage import LedgerBackend, UsageSummary


def contexts_state() -> dict[str, Any]:
    """The current Docker context and every known one, as JSON-ready dicts."""
    from labadvisor import contexts

    current = contexts.current()
    return {
        "current": current.to_dict() if current is not None else None,
        "contexts": [c.to_dict() for c in contexts.list_contexts()],
    }


def server_context() -> ServerContext:
    """The server's Docker context, for the Offload meter."""
    from labadvisor import contexts
    from labadvisor.server.meter import ServerContext

    current = contexts.current()
    return ServerContext(
        current.name, current.role, current.source == "config.json", current.config_path
    )


def usage_summary(ledger: LedgerBackend, days: int) -> UsageSummary:
    """``labadvisor.usage.summary`` of the server's ledger (this user's rows only: the
    local file is the user's own, and a lab's PostgreSQL ledger reads the user's rows)."""
    from labadvisor import usage

    return usage.summary(days, ledger=ledger)


def switch_checked(name: str) -> SwitchResult:
    """Switch all docker clients (config.json) to ``name`` once its engine answered."""
    from labadvisor import contexts

    return contexts.use(name, scope="global")


def is_local_target(name: str) -> bool:
    """Whether ``name`` is the local role, or the context it stands for: the way back from
    Offload, which must never wait on an engine. False for names that resolve to nothing
    (the checked switch then says why)."""
    from labadvisor.contexts import ContextError, store
    from labadvisor.contexts.resolve import find

    if name == "local":
        return True
    directory = store.config_dir()
    try:
        return find(name, directory).name == find("local", directory).name
    except ContextError:
        return False


def switch_unchecked(name: str) -> SwitchResult:
    """Switch all docker clients to ``name`` without asking its engine anything."""
    from labadvisor import contexts

    return contexts.use(name, scope="global", check=False)


def ping(context: str) -> float:
    """Round-trip milliseconds to ``context``'s engine."""
    from labadvisor import contexts

    return contexts.ping(context)


def stop_offload() -> OffloadStatus:
    """``docker offload stop``, then the session's state as the plugin reports it."""
    from labadvisor.contexts import offload

    return offload.stop(timeout=OFFLOAD_STOP_SECONDS)


def context_error_status(exc: Exception) -> int:
    """HTTP status for a ``labadvisor.contexts`` error: the client's mistake (400), a state
    that blocks the switch or a missing ``docker offload`` plugin (409), an engine or
    ``docker offload`` that failed (502), a store that cannot be read or written (500)."""
    from labadvisor.contexts import errors

    if isinstance(exc, (errors.InvalidContextNameError, errors.ContextNotFoundError)):
        return 400
    if isinstance(exc, errors.OffloadNotInstalledError):
        return 409
    if isinstance(exc, (errors.EngineUnreachableError, errors.OffloadError)):
        return 502
    if isinstance(exc, errors.StoreError):
        return 500
    return 409


def keyword_names(func: Callable[..., Any]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def advice(adviser: Callable[..., Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """``adviser(**body).to_dict()``; BadRequest for inputs the library refuses (its message
    names the valid values) or whose advice would hold NaN or infinity."""
    try:
        data: dict[str, Any] = adviser(**body).to_dict()
    except (ValueError, TypeError) as exc:
        # ValueError: a bad value; TypeError: a keyword of the wrong kind for the adviser's
        # signature. Templates are checked when the guide data loads, so anything else is a
        # bug and answers 500 (as JSON, with no traceback).
        raise BadRequest(str(exc)) from None
    try:
        limits.encode(data)
    except ValueError:
        raise BadRequest(
            "these inputs give advice holding a number that is not finite (NaN or infinity); "
            "send smaller values"
        ) from None
    return data


def advice_options() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The choices each advice form offers, from ``labadvisor.options`` (the same lists as
    the panels, the magic and the CLI): ``{form: {input: [{"label", "value"}, ...]}}``.
    Only inputs the form's adviser takes are listed, so every value offered is accepted."""
    from labadvisor.deployment import advise_deployment
    from labadvisor.options import Option, deployment_options, runtime_options
    from labadvisor.runtime import advise_runtime

    forms: dict[str, tuple[dict[str, list[Option]], Callable[..., Any]]] = {
        "runtime": (runtime_options(), advise_runtime),
        "deployment": (deployment_options(), advise_deployment),
    }
    return {
        form: {
            name: [{"label": label, "value": value} for label, value in choices]
            for name, choices in options.items()
            if name in keyword_names(adviser)
        }
        for form, (options, adviser) in forms.items()
    }
