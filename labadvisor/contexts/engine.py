"""The engine behind a context: a docker-py client for it, a ping, and what it reports."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from labadvisor.contexts import store
from labadvisor.contexts.display import html_table
from labadvisor.contexts.errors import ContextNotFoundError, EngineUnreachableError
from labadvisor.contexts.resolve import current_stored
from labadvisor.contexts.roles import role_of
from labadvisor.contexts.targets import find

if TYPE_CHECKING:
    import docker

DEFAULT_TIMEOUT = 3.0


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


def resolve_context(context: str | None) -> store.StoredContext:
    """The named context (or role), or the one in effect for this process."""
    if context is not None:
        return find(context, store.config_dir()).context
    resolution, stored = current_stored()
    if stored is None:
        raise ContextNotFoundError(
            f"the current context {resolution.name!r} does not exist ({resolution.reason})"
        )
    return stored


def client(context: str | None = None, *, timeout: float | None = None) -> docker.DockerClient:
    """A docker-py client for ``context`` (a name, "local"/"offload", or None for the current one).

    It is built from the context store, not from DOCKER_HOST/DOCKER_CONTEXT, so it keeps
    talking to the same engine whatever the process environment does later. TLS material in
    the store is used. Raises EngineUnreachableError if the engine does not answer.
    """
    stored = resolve_context(context)
    return _client_for(stored, timeout=timeout)


def ping(context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> float:
    """Round-trip milliseconds to the engine, or EngineUnreachableError naming context, endpoint
    and cause."""
    return ping_stored(resolve_context(context), timeout=timeout)


def ping_stored(stored: store.StoredContext, *, timeout: float) -> float:
    from labadvisor.contexts import transport

    try:
        return transport.ping(transport.Endpoint.of(stored), timeout=timeout)
    except transport.UnsupportedHostError:
        if not stored.host:
            raise _unreachable(stored, "it has no docker endpoint") from None
    except transport.EngineRequestError as exc:
        raise _unreachable(stored, str(exc)) from exc
    return _ping_with_docker_py(stored, timeout)


def engine_info(context: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> EngineInfo:
    """Reachability, round trip, version, OS, CPUs, memory and GPU capability of an engine."""
    from labadvisor.contexts import transport

    stored = resolve_context(context)
    base = {"context": stored.name, "host": stored.host, "role": role_of(stored.name, stored.host)}
    deadline = time.monotonic() + timeout
    try:
        endpoint = transport.Endpoint.of(stored)
        round_trip_ms = transport.ping(endpoint, timeout=timeout)
    except transport.UnsupportedHostError:
        if not stored.host:
            return EngineInfo(**base, reachable=False, error="it has no docker endpoint")
        return _engine_info_with_docker_py(stored, base, timeout)
    except transport.EngineRequestError as exc:
        return EngineInfo(**base, reachable=False, error=str(exc))
    try:
        version = transport.get(endpoint, "/version", timeout=_left(deadline)).json()
        info = transport.get(endpoint, "/info", timeout=_left(deadline)).json()
    except (transport.EngineRequestError, ValueError) as exc:
        return EngineInfo(
            **base,
            reachable=True,
            round_trip_ms=round_trip_ms,
            error=f"the engine answered /_ping but not /version or /info: {exc}",
        )
    return _describe(base, round_trip_ms, version, info)


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


def _describe(
    base: dict[str, Any], round_trip_ms: float, version: dict[str, Any], info: dict[str, Any]
) -> EngineInfo:
    gpu_sources = gpu_capability(info)
    return EngineInfo(
        **base,
        reachable=True,
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
        runtimes=tuple(sorted(info.get("Runtimes") or {})),
        gpu=bool(gpu_sources),
        gpu_sources=gpu_sources,
    )


def _left(deadline: float) -> float:
    # Never hand a zero or negative timeout to a socket: it would mean non-blocking.
    return max(deadline - time.monotonic(), 0.05)


def _unreachable(stored: store.StoredContext, cause: str) -> EngineUnreachableError:
    return EngineUnreachableError(
        f"the engine of context {stored.name!r} at {stored.host} did not answer: {cause}",
        context=stored.name,
        endpoint=stored.host,
        cause=cause,
    )


def _client_for(stored: store.StoredContext, *, timeout: float | None) -> docker.DockerClient:
    import docker
    from docker.tls import TLSConfig

    tls: TLSConfig | bool = False
    if stored.tls:
        files = stored.tls_files
        cert = files.get("cert.pem"), files.get("key.pem")
        tls = TLSConfig(
            client_cert=cert if all(cert) else None,
            ca_cert=files.get("ca.pem"),
            verify=not stored.skip_tls_verify,
        )
    kwargs: dict[str, Any] = {"base_url": stored.host, "tls": tls}
    if timeout is not None:
        kwargs["timeout"] = timeout
    # Ask the engine for its API version ourselves: docker-py's own probe runs inside the
    # constructor, before _pin_tls_settings could take effect.
    kwargs["version"] = _api_version(stored, DEFAULT_TIMEOUT if timeout is None else timeout)
    try:
        docker_client = docker.DockerClient(**kwargs)
    except docker.errors.DockerException as exc:
        raise _unreachable(stored, str(exc)) from exc
    if stored.tls:
        _pin_tls_settings(docker_client.api)
    return docker_client


def _api_version(stored: store.StoredContext, timeout: float) -> str | None:
    """The engine's API version, or None to let docker-py probe (schemes we do not speak)."""
    from labadvisor.contexts import transport

    try:
        version = transport.get(transport.Endpoint.of(stored), "/version", timeout=timeout)
        return str(version.json()["ApiVersion"])
    except transport.UnsupportedHostError:
        return None
    except transport.EngineRequestError as exc:
        raise _unreachable(stored, str(exc)) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise _unreachable(stored, f"unexpected answer to /version: {exc}") from exc


def _pin_tls_settings(session: Any) -> None:
    """Keep the context's CA (or SkipTLSVerify) when REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE is set.

    requests lets those variables replace a session's ``verify`` on every request
    (psf/requests#3829), which would make the client ignore the store's ca.pem.
    """
    pinned = session.verify
    merge = session.merge_environment_settings

    def merge_keeping_verify(
        url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = merge(url, proxies, stream, verify, cert)
        if verify is None:  # an explicit per-request choice still wins
            settings["verify"] = pinned
        return dict(settings)

    session.merge_environment_settings = merge_keeping_verify


def _ping_with_docker_py(stored: store.StoredContext, timeout: float) -> float:
    start = time.perf_counter()
    docker_client = _client_for(stored, timeout=timeout)
    try:
        docker_client.ping()
    except Exception as exc:  # docker-py raises requests/paramiko errors as well as its own
        raise _unreachable(stored, str(exc)) from exc
    finally:
        docker_client.close()
    return (time.perf_counter() - start) * 1000


def _engine_info_with_docker_py(
    stored: store.StoredContext, base: dict[str, Any], timeout: float
) -> EngineInfo:
    try:
        round_trip_ms = _ping_with_docker_py(stored, timeout)
        docker_client = _client_for(stored, timeout=timeout)
        try:
            version, info = docker_client.version(), docker_client.info()
        finally:
            docker_client.close()
    except EngineUnreachableError as exc:
        return EngineInfo(**base, reachable=False, error=exc.cause)
    except Exception as exc:  # docker-py surfaces transport errors of several libraries
        return EngineInfo(**base, reachable=False, error=str(exc))
    return _describe(base, round_trip_ms, version, info)
