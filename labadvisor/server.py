"""Jupyter Server extension: labadvisor's JSON API under ``<base_url>/labadvisor/api/``.

Routes (all authenticated; writes honour XSRF for cookie sessions):

- ``GET  gpu``                  -> ``labadvisor.gpu.detect().to_dict()``
- ``GET  contexts``             -> ``{"current": {...}, "contexts": [...]}``
- ``PUT  contexts/current``     -> body ``{"name": ...}`` (a context, or the role "local" /
                                   "offload"); switches config.json, as ``docker context use``
- ``POST advise/runtime``       -> ``labadvisor.advise_runtime(**body).to_dict()``
- ``POST advise/deployment``    -> ``labadvisor.advise_deployment(**body).to_dict()``
- ``GET  advise/options``       -> the choices each advice form offers, with labels

The handlers only translate HTTP to library calls: validation and advice live in the
library, whose ``ValueError`` messages (which name the valid values) become 400 replies.
Anything that may block (NVML, Docker engine pings, file reads) runs in a worker thread.
Heavy modules are imported inside the handlers so loading the extension stays cheap.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

API_PREFIX = ("labadvisor", "api")
AUTH_RESOURCE = "labadvisor"


class _BaseHandler(APIHandler):
    """JSON in, JSON out; errors as ``{"message": ...}`` with a 4xx/5xx status."""

    auth_resource = AUTH_RESOURCE

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def fail(self, status: int, message: str) -> None:
        self.log.info(
            "labadvisor API %s %s -> %d: %s",
            self.request.method,
            self.request.path,
            status,
            message,
        )
        self.reply({"message": message}, status)

    def json_object(self) -> dict[str, Any] | None:
        """The request body as a JSON object, or None after replying 400."""
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            self.fail(400, f"request body is not valid JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self.fail(400, f"request body must be a JSON object, got {type(body).__name__}")
            return None
        return body


async def _off_loop(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking library code in a worker thread, keeping the event loop free."""
    return await asyncio.to_thread(func, *args, **kwargs)


_FLAGS = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True}


def _gpu_report(refresh: bool) -> dict[str, Any]:
    from labadvisor import gpu

    return gpu.detect(refresh=refresh).to_dict()


class GpuHandler(_BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        text = self.get_argument("refresh", "0")
        refresh = _FLAGS.get(text.lower())
        if refresh is None:
            valid = ", ".join(_FLAGS)
            self.fail(400, f"refresh must be one of {valid}, not {text!r}")
            return
        self.reply(await _off_loop(_gpu_report, refresh))


def contexts_state() -> dict[str, Any]:
    """The current Docker context and every known one, as JSON-ready dicts."""
    from labadvisor import contexts

    current = contexts.current()
    return {
        "current": current.to_dict() if current is not None else None,
        "contexts": [c.to_dict() for c in contexts.list_contexts()],
    }


class _ContextsBase(_BaseHandler):
    async def state(self) -> dict[str, Any] | None:
        """``contexts_state()``, or None after replying with the error's status."""
        from labadvisor.contexts import errors

        try:
            return await _off_loop(contexts_state)
        except errors.ContextError as exc:
            self.fail(_context_error_status(exc), str(exc))
            return None


class ContextsHandler(_ContextsBase):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        state = await self.state()
        if state is not None:
            self.reply(state)


class CurrentContextHandler(_ContextsBase):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        state = await self.state()
        if state is not None:
            self.reply(state["current"])

    @tornado.web.authenticated
    @authorized
    async def put(self) -> None:
        from labadvisor import contexts
        from labadvisor.contexts import errors

        body = self.json_object()
        if body is None:
            return
        name = body.get("name")
        unknown = sorted(set(body) - {"name"})
        if unknown or not isinstance(name, str) or not name.strip():
            state = await self.state()
            if state is None:
                return
            valid = ", ".join(c["name"] for c in state["contexts"]) or "none found"
            problem = (
                f"unknown field(s) {', '.join(unknown)}" if unknown else "missing context name"
            )
            self.fail(
                400,
                f'{problem}; send {{"name": <context or role>}} with one of: {valid}; '
                f"or a role: {', '.join(contexts.ROLES)}",
            )
            return
        try:
            switched = await _off_loop(contexts.use, name.strip(), scope="global")
        except errors.ContextError as exc:
            self.fail(_context_error_status(exc), str(exc))
            return
        state = await self.state()
        if state is not None:
            self.reply({**state, "switch": switched.to_dict(), "summary": switched.summary()})


def _context_error_status(exc: Exception) -> int:
    """HTTP status for a ``labadvisor.contexts`` error: the client's mistake (400), a state
    that blocks the switch (409), an engine or ``docker offload`` that failed (502)."""
    from labadvisor.contexts import errors

    if isinstance(exc, (errors.InvalidContextNameError, errors.ContextNotFoundError)):
        return 400
    if isinstance(exc, (errors.EngineUnreachableError, errors.OffloadError)):
        return 502
    if isinstance(exc, errors.StoreError):
        return 500
    return 409


def _keyword_names(func: Callable[..., Any]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


class _AdviceHandler(_BaseHandler):
    """POST a JSON object of keyword arguments; get the advice's ``to_dict()``."""

    def adviser(self) -> Callable[..., Any]:
        raise NotImplementedError

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_object()
        if body is None:
            return
        adviser = self.adviser()
        valid = _keyword_names(adviser)
        unknown = sorted(set(body) - set(valid))
        if unknown:
            self.fail(400, f"unknown field(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
            return
        missing = [
            p.name
            for p in inspect.signature(adviser).parameters.values()
            if p.default is p.empty and p.name not in body
        ]
        if missing:
            self.fail(400, f"missing field(s) {', '.join(missing)}; valid: {', '.join(valid)}")
            return
        try:
            advice = await _off_loop(adviser, **body)
        except ValueError as exc:
            self.fail(400, str(exc))
            return
        self.reply(advice.to_dict())


class RuntimeAdviceHandler(_AdviceHandler):
    def adviser(self) -> Callable[..., Any]:
        from labadvisor.runtime import advise_runtime

        return advise_runtime


class DeploymentAdviceHandler(_AdviceHandler):
    def adviser(self) -> Callable[..., Any]:
        from labadvisor.deployment import advise_deployment

        return advise_deployment


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
            if name in _keyword_names(adviser)
        }
        for form, (options, adviser) in forms.items()
    }


class AdviceOptionsHandler(_BaseHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await _off_loop(advice_options))


ROUTES: list[tuple[str, type[_BaseHandler]]] = [
    ("gpu", GpuHandler),
    ("contexts", ContextsHandler),
    ("contexts/current", CurrentContextHandler),
    ("advise/runtime", RuntimeAdviceHandler),
    ("advise/deployment", DeploymentAdviceHandler),
    ("advise/options", AdviceOptionsHandler),
]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the API handlers with the running Jupyter server."""
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    handlers = [
        (url_path_join(base_url, *API_PREFIX, route) + "/?", handler) for route, handler in ROUTES
    ]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("labadvisor: API registered at %s", url_path_join(base_url, *API_PREFIX))
