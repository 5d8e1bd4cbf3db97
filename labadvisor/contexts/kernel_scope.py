"""Which Jupyter kernels chose their own Docker context, told to the server through files.

A kernel-scope switch changes only the kernel's process, which the Jupyter server cannot see.
So a kernel that has its own context publishes it as ``labadvisor-kernel-<id>.json`` beside
its connection file ``kernel-<id>.json`` (in Jupyter's runtime directory, where the server put
it), and withdraws it when it follows the global context again and when the interpreter exits.
The server reads them with :func:`kernel_contexts`.

A kernel killed with SIGKILL cannot withdraw its file, and its process id may be reused, so
the file also records when the process started: :func:`kernel_contexts` drops (and deletes)
a file whose process is gone or is another one now. A file of a kernel the asking server
does not run (``live_kernel_ids``) is left out; it is deleted only when its process is gone
or its connection file is, as several servers of one user share the runtime directory.

Outside a Jupyter kernel (plain Python, the CLI) nothing is published. Each switch of a
kernel is also recorded in the usage ledger; neither a file nor a ledger that fails ever
fails the switch: they are logged and the switch stands.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labadvisor import files

log = logging.getLogger("labadvisor.contexts")

FILE_PREFIX = "labadvisor-kernel-"
_KERNEL_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_CONNECTION_FILE = re.compile(rf"^kernel-({_KERNEL_ID})\.json$")
_PUBLISHED_FILE = re.compile(rf"^{FILE_PREFIX}({_KERNEL_ID})\.json$")


@dataclass(frozen=True)
class KernelContext:
    """The Docker context a kernel chose for itself, as it published it."""

    kernel_id: str
    pid: int
    context: str
    role: str | None  # "local", "offload", "remote"; None when the context does not exist
    host: str | None
    switched_at: float  # Unix time of the switch
    process_started: int | None = None  # the process's start (clock ticks after boot; Linux)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ThisKernel:
    """This process as a Jupyter kernel: its id and the directory of its connection file."""

    kernel_id: str
    directory: Path

    @property
    def path(self) -> Path:
        return published_path(self.directory, self.kernel_id)


def published_path(directory: str | os.PathLike[str], kernel_id: str) -> Path:
    return Path(directory) / f"{FILE_PREFIX}{kernel_id}.json"


def this_kernel() -> ThisKernel | None:
    """This process's kernel id and connection directory, or None outside a Jupyter kernel.

    The id is the ``<id>`` of the connection file ``kernel-<id>.json`` that the server wrote.
    Never imports ipykernel: a process that has not imported it is not a kernel.
    """
    if "ipykernel.kernelapp" not in sys.modules:
        return None
    try:
        from ipykernel.connect import get_connection_file

        connection = get_connection_file()
    except Exception:  # not in a running kernel (RuntimeError), or an unusual ipykernel
        return None
    kernel_id = kernel_id_of(connection)
    if kernel_id is None:
        return None
    return ThisKernel(kernel_id, Path(os.path.abspath(connection)).parent)


def kernel_id_of(connection_file: str) -> str | None:
    """The kernel id ``<id>`` of a connection file path ending in ``kernel-<id>.json``, as
    the Jupyter server names them; None for any other name."""
    match = _CONNECTION_FILE.match(os.path.basename(connection_file))
    return None if match is None else match[1]


# --- the kernel's side ---------------------------------------------------------------------

_lock = threading.Lock()
_published: ThisKernel | None = None  # what this process published, for atexit
_atexit_registered = False


def announce(kernel: ThisKernel, context: str | None, role: str | None, host: str | None) -> None:
    """Tell the server and the ledger that ``kernel`` now uses ``context`` (None: it follows
    the global context again). Never raises: failures are logged."""
    try:
        if context is None:
            withdraw(kernel)
        else:
            publish(kernel, context, role, host)
    except (OSError, ValueError) as exc:
        log.warning("could not tell the Jupyter server about this kernel's context: %s", exc)
    _record_in_ledger(kernel.kernel_id, context, role)


def publish(
    kernel: ThisKernel,
    context: str,
    role: str | None,
    host: str | None,
    *,
    now: float | None = None,
) -> Path:
    """Write this process's context file for ``kernel`` (atomically); its path."""
    global _published, _atexit_registered
    pid = os.getpid()
    published = KernelContext(
        kernel.kernel_id, pid, context, role, host, time.time() if now is None else now,
        process_started(pid),
    )  # fmt: skip
    content = json.dumps(published.to_dict(), indent=1).encode() + b"\n"
    with _lock:
        # 0o600: which endpoint a notebook uses is the user's business.
        files.write(kernel.path, content, new_mode=0o600)
        _published = kernel
        if not _atexit_registered:
            atexit.register(_withdraw_at_exit)
            _atexit_registered = True
    return kernel.path


def withdraw(kernel: ThisKernel) -> bool:
    """Remove ``kernel``'s context file if this process wrote it; whether one was removed."""
    global _published
    with _lock:
        if _published == kernel:
            _published = None
        published = read_published(kernel.path)
        if published is None or published.pid != os.getpid():
            return False  # none, or a restarted kernel's (same id, another process)
        with contextlib.suppress(FileNotFoundError):
            kernel.path.unlink()
            return True
    return False


def _withdraw_at_exit() -> None:
    kernel = _published
    if kernel is not None:
        with contextlib.suppress(OSError, ValueError):
            withdraw(kernel)


def _record_in_ledger(kernel_id: str, context: str | None, role: str | None) -> None:
    try:
        from labadvisor.usage import record_kernel_context

        record_kernel_context(kernel_id, context, role if context is not None else None)
    except Exception as exc:  # the ledger is a record, never a reason for a switch to fail
        log.info("usage ledger: this kernel's switch was not recorded (%s)", exc)


# --- the server's side ---------------------------------------------------------------------


def kernel_contexts(
    runtime_dir: str | os.PathLike[str] | None = None,
    live_kernel_ids: Iterable[str] | None = None,
) -> dict[str, KernelContext]:
    """The contexts kernels published, by kernel id.

    ``runtime_dir`` is where the kernels' connection files are: the server's kernel manager's
    ``connection_dir``, by default Jupyter's runtime directory. With ``live_kernel_ids`` (the
    server's running kernels) only those kernels are answered. Stale files (the process is
    gone or is another one, or the kernel's connection file is gone) are deleted.
    """
    directory = Path(_runtime_dir() if runtime_dir is None else runtime_dir)
    live = None if live_kernel_ids is None else set(live_kernel_ids)
    try:
        names = sorted(os.listdir(directory))
    except OSError:  # no runtime directory yet: no kernels
        return {}
    found: dict[str, KernelContext] = {}
    for name in names:
        match = _PUBLISHED_FILE.match(name)
        if match is None:
            continue
        path = directory / name
        published = read_published(path)
        if published is None or published.kernel_id != match[1]:
            continue  # not one of ours (or unreadable): leave it alone
        gone = (
            not process_alive(published.pid, published.process_started)
            or not (directory / f"kernel-{published.kernel_id}.json").exists()
        )
        if gone:
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if live is None or published.kernel_id in live:
            found[published.kernel_id] = published
    return found


def read_published(path: Path) -> KernelContext | None:
    """The context file at ``path``, or None when missing or not a valid one."""
    try:
        data = json.loads(path.read_bytes())
        published = KernelContext(
            kernel_id=data["kernel_id"],
            pid=data["pid"],
            context=data["context"],
            role=data.get("role"),
            host=data.get("host"),
            switched_at=data["switched_at"],
            process_started=data.get("process_started"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    valid = (
        isinstance(published.kernel_id, str)
        and _is_int(published.pid)
        and isinstance(published.context, str)
        and isinstance(published.switched_at, (int, float))
        and (published.process_started is None or _is_int(published.process_started))
    )
    return published if valid else None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether process ``pid`` runs (not a zombie) and, where ``started`` is known, is the
    process that started then rather than a later one given the same id."""
    if pid <= 0:
        return False
    stat = _proc_stat(pid)
    if stat is not None:
        state, start = stat
        return state not in ("Z", "X", "x") and (started is None or start == started)
    if os.path.exists("/proc/self/stat"):
        return False  # /proc works here, and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def process_started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (Linux), else None."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """State and start time from ``/proc/<pid>/stat``, or None without it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
        # The command name, in parentheses, may itself hold spaces and parentheses.
        fields = text[text.rindex(")") + 2 :].split()
        return fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _runtime_dir() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    return jupyter_runtime_dir()
