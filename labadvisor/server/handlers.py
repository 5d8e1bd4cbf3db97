"""The API's request handlers: HTTP in, library calls in the extension's pools, JSON out.

Validation and advice live in the library, whose ``ValueError`` messages (which name the
valid values) become 400 replies. Every answer, errors included, is a strict JSON object
(:mod:`limits`); an error is ``{"message": ...}``. Heavy modules are imported inside the
handlers so loading the extension stays cheap.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from labadvisor.gpu.report import utc_text
from labadvisor.server import limits, work
from labadvisor.server.limits import BadRequest, quoted
from labadvisor.server.pools import Busy

if TYPE_CHECKING:
    from labadvisor.server.app import LabAdvisor

AUTH_RESOURCE = "labadvisor"
DEFAULT_USAGE_DAYS = 30
MAX_USAGE_DAYS = 3660  # labadvisor.usage.summary's limit
# How long a switch to the local role waits for the local engine before saying it did not
# answer: the switch itself never waits on it.
LOCAL_PING_SECONDS = 1.0


@tornado.web.stream_request_body
class _BaseHandler(APIHandler):
    """JSON in (a bounded body), JSON out; errors as ``{"message": ...}``."""

    auth_resource = AUTH_RESOURCE
    extension: LabAdvisor

    def initialize(self, extension: LabAdvisor) -> None:
        self.extension = extension
        self._body = bytearray()
        self._body_size = 0
        self._long_strings: list[str] = []  # from the body, cut wherever a message quotes them

    async def prepare(self, *, _redirect_to_login: bool = True) -> None:
        # (the keyword keeps the signature of JupyterHandler.prepare, which APIHandler narrows)
        await super().prepare()
        if self._finished:
            return
        try:
            limits.check_length(self.request.headers.get("Content-Length"))
        except BadRequest as exc:
            self.fail(exc.status, str(exc))

    def data_received(self, chunk: bytes) -> None:
        # Keep no more than the limit plus one byte: enough to know the body is too large.
        self._body_size += len(chunk)
        room = limits.MAX_BODY_BYTES + 1 - len(self._body)
        if room > 0:
            self._body += chunk[:room]

    def body_object(self) -> dict[str, Any]:
        """The request body as a JSON object within the limits; BadRequest otherwise."""
        if self._body_size > limits.MAX_BODY_BYTES:
            raise BadRequest(
                f"request body of {self._body_size} bytes is over the limit of "
                f"{limits.MAX_BODY_BYTES} bytes",
                status=413,
            )
        body = limits.parse_object(bytes(self._body))
        self._long_strings = limits.long_strings(body)
        return body

    def reply(self, data: Any, status: int = 200) -> None:
        """``data`` as strict JSON; ValueError (before anything is sent) if it holds NaN or
        infinity."""
        text = limits.encode(data)
        self.set_status(status)
        self.finish(text, set_content_type="application/json")

    def fail(self, status: int, message: str) -> None:
        # Library messages may quote what was sent: cut those values to 100 characters here
        # too, so neither the answer nor the log line carries a huge body.
        message = limits.shortened(limits.cut_quotes(message, self._long_strings))
        self.log.info(
            "labadvisor API %s %s -> %d: %s",
            self.request.method,
            self.request.path,
            status,
            message[:500],
        )
        self.reply({"message": message}, status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised past a handler (tornado's, the decorators', or a bug) as JSON too."""
        exc = kwargs["exc_info"][1] if kwargs.get("exc_info") else None
        if isinstance(exc, tornado.web.HTTPError):
            message = exc.log_message or exc.reason or f"HTTP {status_code}"
        elif exc is not None:
            message = f"internal error in labadvisor ({type(exc).__name__}); see the server log"
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(limits.encode({"message": message}), set_content_type="application/json")

    async def guarded(self, answer: Callable[[], Any]) -> None:
        """Await ``answer()`` and reply with it, mapping expected failures to statuses."""
        from labadvisor.contexts.errors import ContextError

        try:
            data = await answer()
            self.reply(data)
        except BadRequest as exc:
            self.fail(exc.status, str(exc))
        except Busy as exc:
            self.set_header("Retry-After", "1")
            self.fail(503, str(exc))
        except ContextError as exc:
            self.fail(work.context_error_status(exc), str(exc))


_FLAGS = {"0": False, "1": True, "false": False, "true": True, "no": False, "yes": True}


class GpuHandler(_BaseHandler):
    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        text = self.get_argument("refresh", "0")
        refresh = _FLAGS.get(text.lower())
        if refresh is None:
            self.fail(400, f"refresh must be one of {', '.join(_FLAGS)}, not {quoted(text)}")
            return
        await self.guarded(lambda: self.extension.gpu_report(refresh))


class GpuProcessesHandler(_BaseHandler):
    """Who holds GPU memory, per device: kernels with their notebooks, containers, others."""

    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        await self.guarded(self.extension.gpu_processes)


class UsageHandler(_BaseHandler):
    """The Offload meter now, and the usage ledger over ``?days=N`` (default 30)."""

    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        text = self.get_argument("days", str(DEFAULT_USAGE_DAYS))
        days = _whole_number(text)
        if days is None or not 1 <= days <= MAX_USAGE_DAYS:
            self.fail(
                400,
                f"days must be a whole number of days from 1 to {MAX_USAGE_DAYS}, "
                f"not {quoted(text)}",
            )
            return
        await self.guarded(lambda: self.usage(days))

    async def usage(self, days: int) -> dict[str, Any]:
        from labadvisor.server.meter import usage_answer
        from labadvisor.usage.store import LedgerUnavailable

        extension = self.extension
        found: Any = None
        message = None
        server, own, summary = await asyncio.gather(
            extension.store_pool.run(work.server_context),
            extension.store_pool.run(extension.kernel_contexts),
            extension.ledger_pool.run(work.usage_summary, extension.ledger, days),
            return_exceptions=True,
        )
        unread: list[str] = []
        for result, what in ((server, "the server's Docker context"), (own, "kernel contexts")):
            if isinstance(result, Busy):
                raise result
            if isinstance(result, BaseException):
                unread.append(f"{what} could not be read: {result}")
        if isinstance(summary, BaseException):
            if isinstance(summary, Busy):
                raise summary
            if not isinstance(summary, (LedgerUnavailable, OSError, ValueError)):
                self.log.warning("labadvisor: usage ledger not read", exc_info=summary)
            message = f"the usage ledger could not be read: {summary}"
        else:
            found = summary
        use = extension.meter.observe(
            None if isinstance(server, BaseException) else server,
            {} if isinstance(own, BaseException) else own,
        )
        if unread:
            message = "; ".join([*unread, *([message] if message else [])])
        if extension.sampler is None and message is None:
            message = "usage sampling is off on this server (c.LabAdvisor.usage_interval_s = 0)"
        return usage_answer(
            use,
            found,
            state=extension.meter.last_state,
            message=message,
            sampling=extension.sampler is not None,
        )


def _whole_number(text: str) -> int | None:
    stripped = text.strip()
    if not stripped.isdigit() or len(stripped) > 6:
        return None
    return int(stripped)


class ConfigHandler(_BaseHandler):
    """What the operator set for this server (the front end hides what is turned off)."""

    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        self.reply({"allow_context_switch": self.extension.allow_context_switch})


class _ContextsRoute(_BaseHandler):
    """What the context routes share: the state they answer with, the operator's switch
    setting, and the way back to the local engine."""

    def switching_refused(self) -> bool:
        """Reply 403 and say so when the operator turned switching off."""
        if self.extension.allow_context_switch:
            return False
        self.fail(
            403,
            "switching the Docker context is turned off on this server by its operator "
            "(c.LabAdvisor.allow_context_switch = False); nothing was changed",
        )
        return True

    async def state(self) -> dict[str, Any]:
        state, own = await asyncio.gather(
            self.extension.store_pool.run(work.contexts_state),
            self.extension.store_pool.run(self.extension.kernel_contexts),
        )
        paths = await self.extension.notebook_paths() if own else {}
        kernels = {
            kernel_id: {
                "context": published.context,
                "role": published.role,
                "host": published.host,
                "switched_at": utc_text(published.switched_at),
                "notebook_path": paths.get(kernel_id),
            }
            for kernel_id, published in sorted(own.items())
        }
        return {
            **state,
            "kernels": kernels,
            "allow_context_switch": self.extension.allow_context_switch,
        }

    async def leave_offload(self, name: str) -> Any:
        """Switch to the local engine without waiting on it, and without queueing behind
        checks of other engines: the switch is a file write (store pool); the engine is asked
        afterwards, for at most a second, only to say how it is."""
        switched = await self.extension.store_pool.run(work.switch_unchecked, name)
        try:
            round_trip_ms = await asyncio.wait_for(
                self.extension.engine_pool.run(work.ping, switched.context),
                LOCAL_PING_SECONDS,
            )
        except Exception as exc:  # no answer, refused, or engine checks all busy
            cause = getattr(exc, "cause", None) or (
                f"no answer within {LOCAL_PING_SECONDS:g} s"
                if isinstance(exc, asyncio.TimeoutError)
                else str(exc)
            )
            silent = (
                f"the local engine at {quoted(switched.host)} did not answer ({cause}), "
                f"so docker commands fail until it runs"
            )
            # "switched anyway" only where something switched: already there, nothing did.
            moved = switched.changed and switched.previous != switched.context
            note = (
                f"switched anyway, as the way back from Offload always is: {silent}"
                if moved
                else silent
            )
            return replace(switched, note=_joined(switched.note, note), engine_error=cause)
        return replace(switched, checked=True, round_trip_ms=round_trip_ms)


class ContextsHandler(_ContextsRoute):
    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        await self.guarded(self.state)


class CurrentContextHandler(_ContextsRoute):
    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        async def current() -> Any:
            return (await self.state())["current"]

        await self.guarded(current)

    @tornado.web.authenticated
    @authorized("write")
    async def put(self) -> None:
        if not self.switching_refused():
            await self.guarded(self.switch)

    async def switch(self) -> dict[str, Any]:
        from labadvisor import contexts

        body = self.body_object()
        name = body.get("name")
        unknown = sorted(set(body) - {"name"})
        if unknown or not isinstance(name, str) or not name.strip():
            state = await self.state()
            valid = ", ".join(c["name"] for c in state["contexts"]) or "none found"
            problem = (
                f"unknown field(s) {', '.join(quoted(u) for u in unknown)}"
                if unknown
                else f"missing context name (got {quoted(name)})"
            )
            raise BadRequest(
                f'{problem}; send {{"name": <context or role>}} with one of: {valid}; '
                f"or a role: {', '.join(contexts.ROLES)}"
            )
        name = name.strip()
        if await self.extension.store_pool.run(work.is_local_target, name):
            switched = await self.leave_offload(name)
        else:
            switched = await self.extension.engine_pool.run(work.switch_checked, name)
        state = await self.state()
        return {**state, "switch": switched.to_dict(), "summary": switched.summary()}


class OffloadStopHandler(_ContextsRoute):
    """``POST offload/stop``: stop the Docker Offload session (``docker offload stop``, so it
    is no longer billed), then make sure the server's context is a local one. Needs "write"
    and is off with switching (``allow_context_switch``). Without the plugin: 409, nothing
    changed; a plugin that fails: 502."""

    @tornado.web.authenticated
    @authorized("write")
    async def post(self) -> None:
        if not self.switching_refused():
            await self.guarded(self.stop)

    async def stop(self) -> dict[str, Any]:
        if self.body_object():
            raise BadRequest("offload/stop takes no fields; send an empty object or no body")
        stopped = await self.extension.engine_pool.run(work.stop_offload)
        self.extension.meter.last_state = stopped
        state = await self.state()
        switched = None
        # The plugin returns the CLI to the context used before Offload, which may itself
        # be another Offload one; the meter and every kernel then still point at Offload.
        if state["current"] is not None and state["current"].get("role") == "offload":
            switched = await self.leave_offload("local")
            state = await self.state()
        current = state["current"]["name"] if state["current"] is not None else "none"
        summary = f"Docker Offload is {stopped.state}; Docker context: {current}"
        if switched is not None and switched.note:
            summary = f"{summary} ({switched.note})"
        return {
            **state,
            "offload": stopped.to_dict(),
            "switch": switched.to_dict() if switched is not None else None,
            "summary": summary,
        }


def _joined(first: str | None, second: str) -> str:
    return f"{first}. {second}" if first else second


class _AdviceHandler(_BaseHandler):
    """POST a JSON object of keyword arguments; get the advice's ``to_dict()``. Advice only
    reads, so it needs the "read" permission (writes still need the XSRF token)."""

    def adviser(self) -> Callable[..., Any]:
        raise NotImplementedError

    def supplied(self) -> dict[str, Any]:
        """Keywords the server gives the adviser itself: never taken from the body."""
        return {}

    @tornado.web.authenticated
    @authorized("read")
    async def post(self) -> None:
        await self.guarded(self.advice)

    async def advice(self) -> dict[str, Any]:
        body = self.body_object()
        adviser = self.adviser()
        supplied = self.supplied()
        valid = [name for name in work.keyword_names(adviser) if name not in supplied]
        unknown = sorted(set(body) - set(valid))
        if unknown:
            shown = ", ".join(quoted(u) for u in unknown[:10])
            raise BadRequest(f"unknown field(s) {shown}; valid: {', '.join(valid)}")
        missing = [
            p.name
            for p in inspect.signature(adviser).parameters.values()
            if p.default is p.empty and p.name not in body and p.name not in supplied
        ]
        if missing:
            raise BadRequest(f"missing field(s) {', '.join(missing)}; valid: {', '.join(valid)}")
        return await self.extension.advice_pool.run(work.advice, adviser, {**body, **supplied})


class RuntimeAdviceHandler(_AdviceHandler):
    def adviser(self) -> Callable[..., Any]:
        from labadvisor.runtime import advise_runtime

        return advise_runtime

    def supplied(self) -> dict[str, Any]:
        # Who holds the GPU as GET gpu/processes says it: in the server every kernel is a
        # child of the server, so the library's own view would call each "this kernel".
        return {"gpu_processes": self.extension.holders_from_thread}


class DeploymentAdviceHandler(_AdviceHandler):
    def adviser(self) -> Callable[..., Any]:
        from labadvisor.deployment import advise_deployment

        return advise_deployment


class AdviceOptionsHandler(_BaseHandler):
    @tornado.web.authenticated
    @authorized("read")
    async def get(self) -> None:
        await self.guarded(lambda: self.extension.advice_pool.run(work.advice_options))


ROUTES: list[tuple[str, type[_BaseHandler]]] = [
    ("gpu", GpuHandler),
    ("gpu/processes", GpuProcessesHandler),
    ("usage", UsageHandler),
    ("config", ConfigHandler),
    ("contexts", ContextsHandler),
    ("contexts/current", CurrentContextHandler),
    ("offload/stop", OffloadStopHandler),
    ("advise/runtime", RuntimeAdviceHandler),
    ("advise/deployment", DeploymentAdviceHandler),
    ("advise/options", AdviceOptionsHandler),
]
