"""Jupyter kernels known by their command lines, and the notebooks the local Jupyter servers
run them for: what lets :func:`labadvisor.gpu.processes`, called inside one kernel, name
another kernel's notebook without the server's kernel map.

A kernel's command line names its connection file, ``kernel-<id>.json`` (ipykernel's
``-f <path>``): :func:`kernel_id_in` reads the id from it. Only the kernel's Jupyter server
knows its notebook: :func:`session_kernels` reads the servers' ``jpserver-<pid>.json`` (and
the classic notebook server's ``nbserver-<pid>.json``) files in Jupyter's runtime directory
and asks each server's sessions API, ``GET <url>api/sessions``, with the file's token.

Best effort, bounded, quiet: the servers are asked on a helper thread that the caller waits
for :data:`LOOKUP_BUDGET_S` at most; the answer (or the lack of one) is kept for
:data:`CACHE_S`, and while an earlier lookup still waits on a server no other one starts.
Any failure leaves the kernels named by their ids only, with the reason.

Where the token may go: only to a server's own loopback address. A server file is used only
when this user owns it and its process is alive (a dead server's port may be anyone's now);
its ``url`` must be http(s) on localhost, 127.0.0.1 or ::1, or the server must listen on
every interface (its ``hostname`` 0.0.0.0 or ::), where the request goes to its port on
127.0.0.1 or ::1. Unix-socket servers and any other address are skipped. Proxies from the
environment are not used and redirects are not followed, so the token cannot be passed on.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from labadvisor.gpu.process_report import KernelInfo

if TYPE_CHECKING:
    import urllib.request

# The whole lookup (every server) as the caller waits for it, and how long an answer holds.
LOOKUP_BUDGET_S = 0.5
CACHE_S = 3.0
MAX_SERVERS = 8
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_SERVER_FILE_BYTES = 64 * 1024

# Flags that take a kernel's connection file: ipykernel's alias "-f" (also "--f=..."), and
# traitlets' long forms ("--IPKernelApp.connection_file=..."); a client's "--existing" is not.
_FILE_FLAGS = frozenset({"-f", "--f", "--connection-file", "--connection_file"})
_SERVER_FILE = re.compile(r"^(?:jp|nb)server-\d+\.json$")
_LOOPBACK = {"localhost": "localhost", "127.0.0.1": "127.0.0.1", "::1": "[::1]"}
# A server listening on every interface listens on loopback too: ask it there.
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


def kernel_id_in(arguments: Sequence[str]) -> str | None:
    """The kernel id of a Jupyter kernel's command line: the ``<id>`` of the connection
    file ``kernel-<id>.json`` given to ``-f`` (or ``--f=``, ``--*.connection_file=``);
    None for any other command line."""
    if not any(argument.endswith(".json") for argument in arguments):
        return None  # the common case, decided without looking further
    from labadvisor.contexts.kernel_scope import kernel_id_of

    for at, argument in enumerate(arguments):
        if argument in _FILE_FLAGS:
            value = arguments[at + 1] if at + 1 < len(arguments) else ""
        elif argument.startswith("-") and "=" in argument:
            flag, _, value = argument.partition("=")
            if flag not in _FILE_FLAGS and not flag.endswith(".connection_file"):
                continue
        else:
            continue
        kernel_id = kernel_id_of(value)
        if kernel_id is not None:
            return kernel_id
    return None


@dataclass(frozen=True)
class SessionKernels:
    """The kernels the local Jupyter servers' sessions run, by kernel id; ``problem`` says
    why some may be missing (no server found, one did not answer), None when all answered."""

    kernels: Mapping[str, KernelInfo] = field(default_factory=dict)
    problem: str | None = None


@dataclass(frozen=True)
class _Server:
    sessions_url: str
    token: str
    pid: int


_lock = threading.Lock()
_answers: dict[tuple[str, ...], tuple[float, SessionKernels]] = {}  # by runtime directories
_asking: set[tuple[str, ...]] = set()  # lookups whose helper thread still runs


def session_kernels(ancestors: Collection[int] = ()) -> SessionKernels:
    """What the local Jupyter servers' sessions say about their kernels (cached for
    :data:`CACHE_S`). ``ancestors``: this process's ancestors' pids; a server among them
    (the one that runs this kernel) is asked first and wins where servers disagree.
    Waits :data:`LOOKUP_BUDGET_S` at most; never raises."""
    try:
        return _session_kernels(ancestors)
    except Exception as exc:  # an odd Jupyter installation, no thread to spare: no names
        return SessionKernels(problem=f"the Jupyter servers could not be asked ({exc})")


def _session_kernels(ancestors: Collection[int]) -> SessionKernels:
    directories = _runtime_directories()
    now = time.monotonic()
    with _lock:
        known = _answers.get(directories)
        if known is not None and now - known[0] < CACHE_S:
            return known[1]
        if directories in _asking:
            return SessionKernels(problem=_late())
    servers = _servers(directories, ancestors)
    if not servers:
        where = ", ".join(directories) or "no runtime directory"
        answer = SessionKernels(problem=f"no Jupyter server of this user found ({where})")
        with _lock:
            _answers[directories] = (now, answer)
        return answer
    box: list[SessionKernels] = []
    with _lock:
        _asking.add(directories)
    helper = threading.Thread(
        target=_ask_into,
        args=(servers, directories, box),
        name="labadvisor-jupyter-sessions",
        daemon=True,
    )
    try:
        helper.start()
    except BaseException:
        with _lock:
            _asking.discard(directories)
        raise
    helper.join(LOOKUP_BUDGET_S)
    if box:
        return box[0]
    late = SessionKernels(problem=_late())
    with _lock:
        if directories in _asking:  # the helper may still store its answer when it comes
            _answers[directories] = (time.monotonic(), late)
    return late


def forget() -> None:
    """Drop the kept answers (the next call asks the servers again)."""
    with _lock:
        _answers.clear()


def _late() -> str:
    return f"no Jupyter server answered within {LOOKUP_BUDGET_S:g} s"


def _ask_into(
    servers: list[_Server], directories: tuple[str, ...], box: list[SessionKernels]
) -> None:
    try:
        answer = _ask_all(servers, time.monotonic() + LOOKUP_BUDGET_S)
    except Exception as exc:  # never let the helper thread die noisily
        answer = SessionKernels(problem=f"the Jupyter servers could not be asked ({exc})")
    with _lock:
        _answers[directories] = (time.monotonic(), answer)
        _asking.discard(directories)
    box.append(answer)


def _ask_all(servers: list[_Server], deadline: float) -> SessionKernels:
    kernels: dict[str, KernelInfo] = {}
    failed = 0
    for server in servers:
        if time.monotonic() >= deadline:
            failed += 1
            continue
        found = _sessions(server, deadline)
        if found is None:
            failed += 1
            continue
        for kernel_id, info in found.items():
            kernels.setdefault(kernel_id, info)  # the preferred server's answer stands
    problem = None
    if failed:
        problem = f"{failed} of {len(servers)} local Jupyter server(s) did not answer"
    return SessionKernels(kernels, problem)


# --- finding the servers ---------------------------------------------------------------------


def _runtime_directories() -> tuple[str, ...]:
    """Jupyter's runtime directory, and that of this kernel's connection file when this is
    a kernel (where its server wrote it), without duplicates."""
    found: list[str] = []
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        found.append(jupyter_runtime_dir())
    except ImportError:
        if os.environ.get("JUPYTER_RUNTIME_DIR"):
            found.append(os.environ["JUPYTER_RUNTIME_DIR"])
    from labadvisor.contexts.kernel_scope import this_kernel

    kernel = this_kernel()
    if kernel is not None:
        found.append(str(kernel.directory))
    unique: dict[str, None] = {}
    for directory in found:
        unique.setdefault(os.path.abspath(directory), None)
    return tuple(unique)


def _servers(directories: Sequence[str], ancestors: Collection[int]) -> list[_Server]:
    """The live servers of this user whose sessions may be asked, the one among
    ``ancestors`` first, at most :data:`MAX_SERVERS`."""
    found: dict[str, _Server] = {}
    for directory in directories:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if _SERVER_FILE.match(name):
                server = _server(os.path.join(directory, name))
                if server is not None:
                    found.setdefault(server.sessions_url, server)
    ordered = sorted(found.values(), key=lambda s: s.pid not in ancestors)
    return ordered[:MAX_SERVERS]


def _server(path: str) -> _Server | None:
    info = _read_server_file(path)
    if info is None:
        return None
    pid, token = info.get("pid"), info.get("token")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return None  # this process is the server: it knows its own kernels
    if not isinstance(token, str) or not _alive(pid):
        return None
    url = sessions_url(info)
    return None if url is None else _Server(url, token, pid)


def _read_server_file(path: str) -> dict[str, Any] | None:
    """The JSON of a server file this user owns; None for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if hasattr(os, "getuid") and os.fstat(fd).st_uid != os.getuid():
            return None  # another user's server: neither its token nor its word is ours
        data = json.loads(os.read(fd, MAX_SERVER_FILE_BYTES))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def sessions_url(info: Mapping[str, Any]) -> str | None:
    """Where to ask a server (its ``jpserver-*.json`` content) for its sessions: on its
    loopback address only, rebuilt from host, port and path; None when there is none."""
    url = info.get("url")
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.hostname is None:
        return None
    host = _LOOPBACK.get(parts.hostname)
    if host is None:
        listening = info.get("hostname")
        host = _WILDCARD.get(listening) if isinstance(listening, str) else None
        if host is None or port is None:
            return None  # only reachable on another address: the token stays here
    netloc = host if port is None else f"{host}:{port}"
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme}://{netloc}{path}api/sessions"


# --- asking one server -----------------------------------------------------------------------


def _opener() -> urllib.request.OpenerDirector:
    """An opener that neither follows redirects (one would carry the token to wherever it
    points) nor uses the environment's proxies (which would see the token)."""
    import ssl
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    # Loopback only (checked above), so TLS without verification is no weaker than the
    # plain HTTP a local server usually speaks, and self-signed local servers still answer.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        NoRedirect(),
        urllib.request.HTTPSHandler(context=unverified),
    )


def _sessions(server: _Server, deadline: float) -> dict[str, KernelInfo] | None:
    """kernel id -> KernelInfo from one server's sessions; None when it did not answer."""
    headers = {"Accept": "application/json"}
    if server.token:
        headers["Authorization"] = f"token {server.token}"
    try:
        import urllib.request

        request = urllib.request.Request(server.sessions_url, headers=headers)
        timeout = max(deadline - time.monotonic(), 0.01)
        with _opener().open(request, timeout=timeout) as response:
            if response.status != 200:
                return None
            body = _read_until(response, deadline)
        data = json.loads(body)
    except Exception:  # refused, timed out, 403, http.client's protocol errors, not JSON
        return None
    return sessions_in(data) if isinstance(data, list) else None


def _read_until(response: Any, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() >= deadline:
            raise TimeoutError("the server's answer came too slowly")
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ValueError("the server's answer is too large")
        chunks.append(chunk)


def sessions_in(sessions: list[Any]) -> dict[str, KernelInfo]:
    """kernel id -> KernelInfo (kernel name, the session's path) of a sessions API answer,
    skipping entries that are not shaped like sessions. As the server's own map does, the
    path is the session's whatever it opened (a notebook, usually)."""
    found: dict[str, KernelInfo] = {}
    for session in sessions:
        if not isinstance(session, dict):
            continue
        kernel = session.get("kernel")
        if not isinstance(kernel, dict) or not isinstance(kernel.get("id"), str):
            continue
        path = session.get("path")
        if not isinstance(path, str):  # the classic notebook server's older shape
            notebook = session.get("notebook")
            path = notebook.get("path") if isinstance(notebook, dict) else None
        name = kernel.get("name")
        found[kernel["id"]] = KernelInfo(
            kernel["id"],
            name if isinstance(name, str) and name else None,
            path if isinstance(path, str) and path else None,
        )
    return found
