"""What the Jupyter server knows about its kernels: their ids, process ids, kernel names and
the notebooks their sessions opened them for.

The kernel manager is read in any thread (plain attribute reads); the session manager only
on the server's event loop (its SQLite connection belongs to that thread), so
:func:`kernel_infos` is a coroutine.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labadvisor.gpu import KernelInfo


def live_kernel_ids(kernel_manager: Any) -> list[str]:
    """The ids of the kernels the server runs now."""
    if kernel_manager is None:
        return []
    with contextlib.suppress(Exception):  # a manager being torn down
        return [str(kernel_id) for kernel_id in kernel_manager.list_kernel_ids()]
    return []


def kernel_pid(kernel: Any) -> int | None:
    """The process id of one kernel manager's kernel: its provisioner's, else its process's;
    None for a kernel not (or no longer) running as a local process."""
    provisioner = getattr(kernel, "provisioner", None)
    for holder, attribute in ((provisioner, "pid"), (provisioner, "process"), (kernel, "process")):
        value = getattr(holder, attribute, None) if holder is not None else None
        if attribute == "process":
            value = getattr(value, "pid", None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


async def notebook_paths(session_manager: Any) -> dict[str, str]:
    """kernel id -> the path of the notebook (or console, file) its session is for."""
    if session_manager is None:
        return {}
    paths: dict[str, str] = {}
    for session in await session_manager.list_sessions():
        kernel = session.get("kernel") or {}
        kernel_id, path = kernel.get("id"), session.get("path")
        if isinstance(kernel_id, str) and isinstance(path, str) and path:
            paths[kernel_id] = path
    return paths


async def kernel_infos(kernel_manager: Any, session_manager: Any) -> dict[int, KernelInfo]:
    """pid -> :class:`~labadvisor.gpu.KernelInfo` (kernel id, kernel name, notebook path)
    for every kernel the server runs as a local process. Run on the server's event loop."""
    from labadvisor.gpu import KernelInfo

    paths = await notebook_paths(session_manager)
    found: dict[int, KernelInfo] = {}
    for kernel_id in live_kernel_ids(kernel_manager):
        try:
            kernel = kernel_manager.get_kernel(kernel_id)
        except KeyError:  # shut down meanwhile
            continue
        pid = kernel_pid(kernel)
        if pid is not None:
            name = getattr(kernel, "kernel_name", None)
            found[pid] = KernelInfo(
                kernel_id, name if isinstance(name, str) else None, paths.get(kernel_id)
            )
    return found


def connection_dir(kernel_manager: Any) -> str | None:
    """Where the server writes its kernels' connection files (None: Jupyter's default)."""
    directory = getattr(kernel_manager, "connection_dir", None)
    return directory if isinstance(directory, str) and directory else None
