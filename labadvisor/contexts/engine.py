"""The engine behind a context, through docker-py: a client for it, a ping, and what it reports.

Every conversation with an engine goes through :func:`_connected`, which builds the client from
the context store (not from the process environment) and turns whatever the transport raises
into an :class:`EngineUnreachableError` with a short cause. Each public call runs its
conversation under a whole-call deadline (:mod:`deadline`), so ``timeout`` bounds the call
whatever the endpoint does. docker-py is imported only here, and only when an engine is
contacted.
"""

from __future__ import annotations

import functools
import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from labadvisor.contexts import store
from labadvisor.contexts.deadline import DeadlineExceeded, call_within, check_timeout
from labadvisor.contexts.errors import EngineUnreachableError, quoted, shortened
from labadvisor.contexts.resolve import role_of, stored_context
from labadvisor.explain import html_table

if TYPE_CHECKING:
    import docker

DEFAULT_TIMEOUT = 3.0
# Never hand a zero or negative timeout to a socket: it would mean non-blocking.
_SHORTEST_WAIT = 0.05
_Answer = TypeVar("_Answer")


@dataclass(frozen=True)
class EngineInfo:
    """What :func:`engine_info` found. ``reachable=False`` with ``error`` is a normal answer."""

    context: str
    host: str | None
    role: str
    reachable: bool
    error: str | None = None
    round_trip_ms: float | None = None
    server_version: str | None = None
    api_version: str | None = None
    os: str | None = None
    os_type: str | None = None
    architecture: str | None = None
    cpus: int | None = None
    memory_bytes: int | None = None
    engine_id: str | None = None
    engine_name: str | None = None
    containers_running: int | None = None
    runtimes: tuple[str, ...] = ()
    gpu: bool = False
    gpu_sources: tuple[str, ...] = field(default=())

    @property
    def memory_gib(self) -> float | None:
        return None if self.memory_bytes is None else self.memory_bytes / 1024**3

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runtimes"] = list(self.runtimes)
        data["gpu_sources"] = list(self.gpu_sources)
        data["memory_gib"] = None if self.memory_gib is None else round(self.memory_gib, 2)
        return data

    def summary(self) -> str:
        head = f"{self.context} ({self.role}) at {self.host or 'no endpoint'}"
        if not self.reachable:
            return f"{head}: unreachable ({self.error})"
        parts = [f"answered in {self.round_trip_ms:.1f} ms"]
        if self.server_version:
            parts.append(f"Docker {self.server_version} (API {self.api_version})")
        if self.os:
            parts.append(f"{self.os} {self.os_type or ''}/{self.architecture or ''}".strip())
        if self.cpus is not None and self.memory_gib is not None:
            parts.append(f"{self.cpus} CPUs, {self.memory_gib:.1f} GiB")
        parts.append(f"GPU: {', '.join(self.gpu_sources)}" if self.gpu else "no GPU")
        if self.error:
            parts.append(f"incomplete: {self.error}")
        return f"{head}: " + "; ".join(parts)

    def __repr__(self) -> str:
        return f"<EngineInfo {self.summary()}>"

    def _repr_html_(self) -> str:
        rows = [("context", f"{self.context} ({self.role})"), ("endpoint", self.host or "none")]
        if not self.reachable:
            rows.append(("reachable", f"no: {self.error}"))
            return html_table("Docker engine", rows)
        rows += [
            ("reachable", f"yes, {self.round_trip_ms:.1f} ms round trip"),
            ("server", f"Docker {self.server_version} (API {self.api_version})"),
            ("OS", f"{self.os} ({self.os_type}/{self.architecture})"),
            ("CPUs", str(self.cpus)),
            ("memory", "unknown" if self.memory_gib is None else f"{self.memory_gib:.1f} GiB"),
            ("GPU", ", ".join(self.gpu_sources) if self.gpu else "none reported"),
            ("runtimes", ", ".join(self.runtimes)),
        ]
        if self.error:
            rows.append(("incomplete", self.error))
        return html_table("Docker engine", rows)


def client(context: str | None = None, *, timeout: float | None = None) -> docker.DockerClient:
    """A docker-py client for ``context`` (a name, "local"/"offload", or None for the current one).

    It is built from the context store, not from DOCKER_HOST/DOCKER_CONTEXT, so it keeps
    talking to the same engine whatever the process environment does later. TLS material in
    the store is used. Raises EngineUnreachableError if the engine does not answer within
    ``timeout`` (default 3 s); later calls then wait up to ``timeout`` per read (default
    docker-py's).
    """
    import docker

    probe = DEFAULT_TIMEOUT if timeout is None else check_timeout(timeout)
    stored = stored_context(context)
    try:
        api = call_within(probe, lambda left: _api_client(stored, left, shown=probe))
    except DeadlineExceeded as exc:
        raise _unreachable(stored, exc.cause) from None
    api.timeout = docker.constants.DEFAULT_TIMEOUT_SECONDS if timeout is None else probe
    return _client_class()(api)


def ping(context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> float:
    """Round-trip milliseconds to the engine, or EngineUnreachableError naming context, endpoint
    and cause, within ``timeout`` seconds (0 < timeout <= 600) whatever the endpoint does."""
    timeout = check_timeout(timeout)
    return ping_stored(stored_context(context), timeout=timeout)


def ping_stored(stored: store.StoredContext, *, timeout: float) -> float:
    timeout = check_timeout(timeout)

    def ping_now(left: float) -> float:
        with _connected(stored, left, shown=timeout) as conversation:
            return conversation.ping()

    try:
        return call_within(timeout, ping_now)
    except DeadlineExceeded as exc:
        raise _unreachable(stored, exc.cause) from None


def engine_info(context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> EngineInfo:
    """Reachability, round trip, version, OS, CPUs, memory and GPU capability of an engine,
    within ``timeout`` seconds (0 < timeout <= 600) whatever the endpoint does."""
    timeout = check_timeout(timeout)
    stored = stored_context(context)
    pinged: list[float] = []  # the round trip, once the ping is answered

    def ask(left: float) -> EngineInfo:
        try:
            with _connected(stored, left, shown=timeout) as conversation:
                pinged.append(conversation.ping())
                try:
                    version = conversation.call(lambda api: api.version())
                    info = conversation.call(lambda api: api.info())
                except EngineUnreachableError as exc:
                    return _pinged_only(stored, pinged[0], exc.cause)
        except EngineUnreachableError as exc:
            return _engine_info(stored, None, error=exc.cause)
        return _engine_info(stored, pinged[0], version=version, info=info)

    try:
        return call_within(timeout, ask)
    except DeadlineExceeded as exc:
        if pinged:
            return _pinged_only(stored, pinged[0], exc.cause)
        return _engine_info(stored, None, error=exc.cause)


def _pinged_only(stored: store.StoredContext, round_trip_ms: float, cause: str) -> EngineInfo:
    cause = f"the engine answered /_ping but not /version or /info: {cause}"
    return _engine_info(stored, round_trip_ms, error=cause)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def gpu_capability(info: dict[str, Any]) -> tuple[str, ...]:
    """GPU evidence in an engine's /info: an nvidia runtime, or CDI GPU devices it discovered."""
    sources = [f"runtime {name}" for name in sorted(info.get("Runtimes") or {}) if "nvidia" in name]
    for device in info.get("DiscoveredDevices") or []:
        if not isinstance(device, dict):
            continue
        device_id = str(device.get("ID", ""))
        if device.get("Source") == "cdi" and "gpu" in device_id.lower():
            sources.append(f"CDI {device_id}")
    return tuple(sources)


def _engine_info(
    stored: store.StoredContext,
    round_trip_ms: float | None,
    *,
    error: str | None = None,
    version: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
) -> EngineInfo:
    """What was learnt; an engine is reachable when it answered the ping."""
    version, info = version or {}, info or {}
    gpu_sources = gpu_capability(info)
    return EngineInfo(
        context=stored.name,
        host=stored.host,
        role=role_of(stored.name, stored.host),
        reachable=round_trip_ms is not None,
        error=error,
        round_trip_ms=round_trip_ms,
        server_version=version.get("Version"),
        api_version=version.get("ApiVersion"),
        os=info.get("OperatingSystem"),
        os_type=info.get("OSType"),
        architecture=info.get("Architecture"),
        cpus=info.get("NCPU"),
        memory_bytes=info.get("MemTotal"),
        engine_id=info.get("ID"),
        engine_name=info.get("Name"),
        containers_running=_count(info.get("ContainersRunning")),
        runtimes=tuple(sorted(info.get("Runtimes") or {})),
        gpu=bool(gpu_sources),
        gpu_sources=gpu_sources,
    )


class _Conversation:
    """Requests to one engine that share one time budget."""

    def __init__(
        self, stored: store.StoredContext, api: docker.APIClient, shown: float, ends: float
    ) -> None:
        self.stored = stored
        self.api = api
        self.shown = shown  # the caller's timeout, for messages
        self.ends = ends

    def call(self, request: Callable[[docker.APIClient], _Answer]) -> _Answer:
        """``request(api)`` with the time left; engine errors become EngineUnreachableError."""
        left = self.ends - time.monotonic()
        if left <= 0:
            # Also what ends a conversation whose caller stopped waiting at its deadline.
            raise _unreachable(self.stored, f"no answer within {self.shown:g} s")
        self.api.timeout = max(left, _SHORTEST_WAIT)
        try:
            return request(self.api)
        except Exception as exc:  # docker-py raises requests/urllib3/paramiko errors too
            raise _unreachable(self.stored, _cause(exc, self.stored, self.shown)) from exc

    def ping(self) -> float:
        start = time.perf_counter()
        answer = self.call(lambda api: api.ping())
        if answer is not True:
            raise _unreachable(self.stored, f"unexpected answer to /_ping: {answer!r}")
        return (time.perf_counter() - start) * 1000


@contextmanager
def _connected(
    stored: store.StoredContext, timeout: float, *, shown: float
) -> Iterator[_Conversation]:
    """A conversation with ``stored``'s engine whose requests each get what is left of
    ``timeout`` seconds (``shown`` is the caller's timeout, for messages). Only a deadline
    around it (:func:`call_within`) bounds the whole: one slow read can use all that is left."""
    ends = time.monotonic() + timeout  # the client's own version probe counts too
    conversation = _Conversation(stored, _api_client(stored, timeout, shown=shown), shown, ends)
    try:
        yield conversation
    finally:
        conversation.api.close()


def _api_client(stored: store.StoredContext, timeout: float, *, shown: float) -> docker.APIClient:
    """A client for the context's endpoint and TLS material; asks the engine its API version."""
    if not stored.host:
        raise _unreachable(stored, "it has no docker endpoint")
    _check_endpoint(stored)
    from docker.tls import TLSConfig

    tls: TLSConfig | bool = False
    try:
        if stored.tls:
            files = stored.tls_files
            cert, key = files.get("cert.pem"), files.get("key.pem")
            # A context may hold only ca.pem (server verified, no client certificate).
            tls = TLSConfig(
                client_cert=(cert, key) if cert and key else None,
                ca_cert=files.get("ca.pem"),
                verify=not stored.skip_tls_verify,
            )
        wait = max(timeout, _SHORTEST_WAIT)
        return _api_client_class()(base_url=stored.host, tls=tls, timeout=wait, version="auto")
    except Exception as exc:  # bad TLS files, or no answer to the version probe
        raise _unreachable(stored, _cause(exc, stored, shown)) from exc


def _check_endpoint(stored: store.StoredContext) -> None:
    """Refuse a host docker-py cannot parse (``tcp://[::1``, a port out of range, an unknown
    scheme) with a message that says so, rather than as if the engine had been asked."""
    import docker
    from docker.constants import IS_WINDOWS_PLATFORM

    try:
        docker.utils.parse_host(stored.host, IS_WINDOWS_PLATFORM, tls=stored.tls)
    except (ValueError, docker.errors.DockerException) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise _unreachable(stored, f"its endpoint is not a valid Docker host ({reason})") from None


@functools.cache
def _api_client_class() -> type[docker.APIClient]:
    import docker

    class ContextAPIClient(docker.APIClient):
        """Keeps the context's CA (or SkipTLSVerify) when REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE is
        set: requests lets those variables replace a session's ``verify`` on every request
        (psf/requests#3829), which would make the client ignore the store's ca.pem."""

        def merge_environment_settings(
            self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> dict[str, Any]:
            settings = dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
            if verify is None:  # an explicit per-request choice still wins
                settings["verify"] = self.verify
            return settings

    return ContextAPIClient


@functools.cache
def _client_class() -> type[docker.DockerClient]:
    import docker

    class ContextDockerClient(docker.DockerClient):
        """docker-py's high-level client around an APIClient built from the context store."""

        def __init__(self, api: docker.APIClient) -> None:
            # DockerClient.__init__ only builds an APIClient from its arguments; ours is built.
            self.api = api

    return ContextDockerClient


def _unreachable(stored: store.StoredContext, cause: str) -> EngineUnreachableError:
    return EngineUnreachableError(
        f"the engine of context {quoted(stored.name)} at {_shown_host(stored.host)} did not "
        f"answer: {cause}",
        context=stored.name,
        endpoint=stored.host,
        cause=cause,
    )


def _shown_host(host: str | None) -> str:
    """The endpoint as quoted in messages: plain when short, cut when huge."""
    if host is None:
        return "no endpoint"
    return shortened(host)


def _cause(exc: BaseException, stored: store.StoredContext, timeout: float) -> str:
    """One short line saying why the engine did not answer, from docker-py's nested errors."""
    import docker
    import requests
    import urllib3

    chain = _exception_chain(exc)
    for error in chain:
        if isinstance(error, FileNotFoundError) and (stored.host or "").startswith("unix://"):
            return f"no socket at {(stored.host or '').split('://', 1)[1]}"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, ssl.SSLError):
            return f"TLS failed: {error.reason or error}"
    for error in chain:
        # urllib3 counts a refused or unresolvable connection as a connect timeout; it is not.
        if isinstance(error, urllib3.exceptions.NewConnectionError):
            continue
        if isinstance(
            error, (TimeoutError, requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)
        ):
            return f"no answer within {timeout:g} s"
    for error in chain:
        if isinstance(error, docker.errors.APIError):
            return f"HTTP {error.status_code}: {shortened(str(error.explanation))}"
    for error in chain:
        # An engine killed mid-answer: the connection ends before or inside the headers.
        if isinstance(error, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
            return "the connection closed before a complete answer"
        if isinstance(error, json.JSONDecodeError):
            return "its answer broke off or is not the JSON a Docker engine sends"
    for error in reversed(chain):
        if isinstance(error, OSError) and error.strerror:
            return error.strerror[:1].lower() + error.strerror[1:]
    return shortened(" ".join(str(exc).split())) or type(exc).__name__


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception nested in it: causes, contexts, urllib3's ``reason`` and the
    exceptions requests and urllib3 keep in ``args``."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        error = pending.pop(0)
        if any(error is seen for seen in found):
            continue
        found.append(error)
        nested = [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
        pending.extend(e for e in nested if isinstance(e, BaseException))
    return found
