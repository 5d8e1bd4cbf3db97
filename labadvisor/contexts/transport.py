"""Minimal HTTP to a Docker engine over unix:// or tcp:// (TLS included), with a deadline.

Pinging through the standard library keeps ``use(check=True)`` to about a millisecond and
keeps docker-py (and requests) out of the kernel until a client is actually asked for. Schemes
we do not speak (ssh://, npipe://) raise UnsupportedHostError so callers can use docker-py.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from labadvisor.contexts.store import StoredContext


class UnsupportedHostError(Exception):
    """The endpoint's scheme is not one this module speaks."""


class EngineRequestError(Exception):
    """The engine did not give a usable answer; ``str()`` is a short human-readable cause."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    tls: bool = False
    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def of(cls, stored: StoredContext) -> Endpoint:
        if not stored.host:
            raise UnsupportedHostError(f"context {stored.name!r} has no docker endpoint")
        files = stored.tls_files
        return cls(
            host=stored.host,
            tls=stored.tls,
            verify=not stored.skip_tls_verify,
            ca_cert=files.get("ca.pem"),
            client_cert=files.get("cert.pem"),
            client_key=files.get("key.pem"),
        )


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    elapsed_ms: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def get(endpoint: Endpoint, path: str, *, timeout: float) -> Response:
    """GET ``path``; raise EngineRequestError with the cause if no 2xx answer within ``timeout``."""
    start = time.perf_counter()
    connection: http.client.HTTPConnection | None = None
    try:
        connection = _connect(endpoint, timeout)
        connection.request("GET", path, headers={"Host": "docker", "User-Agent": "labadvisor"})
        response = connection.getresponse()
        body = response.read()
    except TimeoutError as exc:
        raise EngineRequestError(f"no answer within {timeout:g} s") from exc
    except ssl.SSLError as exc:
        raise EngineRequestError(f"TLS failed: {exc.reason or exc}") from exc
    except FileNotFoundError as exc:
        raise EngineRequestError(f"no socket at {_unix_path(endpoint.host)}") from exc
    except ConnectionRefusedError as exc:
        raise EngineRequestError("connection refused") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise EngineRequestError(_describe(exc)) from exc
    finally:
        if connection is not None:
            connection.close()
    elapsed_ms = (time.perf_counter() - start) * 1000
    if not 200 <= response.status < 300:
        detail = body.decode("utf-8", "replace").strip()[:200]
        raise EngineRequestError(f"HTTP {response.status} from {path}: {detail}")
    return Response(status=response.status, body=body, elapsed_ms=elapsed_ms)


def ping(endpoint: Endpoint, *, timeout: float) -> float:
    """Round-trip milliseconds of GET /_ping, or EngineRequestError."""
    response = get(endpoint, "/_ping", timeout=timeout)
    if response.body.strip() != b"OK":
        raise EngineRequestError(f"unexpected answer to /_ping: {response.body[:80]!r}")
    return response.elapsed_ms


def _connect(endpoint: Endpoint, timeout: float) -> http.client.HTTPConnection:
    scheme = endpoint.host.split("://", 1)[0].lower() if "://" in endpoint.host else ""
    if scheme == "unix":
        return _UnixConnection(_unix_path(endpoint.host), timeout)
    if scheme in ("tcp", "http", "https"):
        parts = urlsplit(endpoint.host)
        use_tls = endpoint.tls or scheme == "https"
        host = parts.hostname or "localhost"
        try:
            port = parts.port or (2376 if use_tls else 2375)
        except ValueError as exc:
            raise EngineRequestError(f"bad port in {endpoint.host!r}") from exc
        if use_tls:
            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_tls_context(endpoint)
            )
        return http.client.HTTPConnection(host, port, timeout=timeout)
    raise UnsupportedHostError(f"{scheme or endpoint.host!r} endpoints are handled by docker-py")


def _tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if endpoint.verify:
        if endpoint.ca_cert:
            context.load_verify_locations(cafile=endpoint.ca_cert)
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if endpoint.client_cert and endpoint.client_key:
        context.load_cert_chain(endpoint.client_cert, endpoint.client_key)
    return context


def _unix_path(host: str) -> str:
    return host.split("://", 1)[1]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__
