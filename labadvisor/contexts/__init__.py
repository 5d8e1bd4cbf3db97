"""Docker contexts for the notebook kernel: list them, see which is in effect, switch between
the local engine and Docker Offload, and talk to the engine behind one.

Modules, by job: ``store`` (the context store and config.json), ``resolve`` (roles, what a
name means, which context is in effect, the list), ``switch`` (``use``/``using``/
``follow_global`` and the kernel's environment), ``kernel_scope`` (a Jupyter kernel's own
context, published for the server: ``kernel_contexts``), ``engine`` (docker-py: client, ping,
engine_info), ``container_names`` (a container's name, for the GPU holders), ``offload``
(the ``docker offload`` plugin), ``errors`` and ``display`` (HTML tables).

``import labadvisor.contexts`` reads nothing and does not import docker-py; listing, ``current()``
and ``use(check=False)`` do not either. It is imported when an engine is contacted.
"""

from __future__ import annotations

from labadvisor.contexts import offload
from labadvisor.contexts.engine import EngineInfo, client, engine_info, ping
from labadvisor.contexts.errors import (
    AmbiguousContextError,
    ContextError,
    ContextNotFoundError,
    EngineUnreachableError,
    InvalidContextNameError,
    OffloadError,
    OffloadNotInstalledError,
    StoreError,
)
from labadvisor.contexts.kernel_scope import KernelContext, kernel_contexts
from labadvisor.contexts.offload import OffloadStatus
from labadvisor.contexts.resolve import (
    ROLES,
    ContextInfo,
    ContextList,
    CurrentContext,
    current,
    list_contexts,
)
from labadvisor.contexts.switch import SCOPES, SwitchResult, follow_global, use, using

# The kernel's Docker variables, for fixtures that snapshot and restore them.
from labadvisor.contexts.switch import kernel_env as kernel_env

__all__ = [
    "ROLES",
    "SCOPES",
    "AmbiguousContextError",
    "ContextError",
    "ContextInfo",
    "ContextList",
    "ContextNotFoundError",
    "CurrentContext",
    "EngineInfo",
    "EngineUnreachableError",
    "InvalidContextNameError",
    "KernelContext",
    "OffloadError",
    "OffloadNotInstalledError",
    "OffloadStatus",
    "StoreError",
    "SwitchResult",
    "client",
    "current",
    "engine_info",
    "follow_global",
    "kernel_contexts",
    "list_contexts",
    "offload",
    "ping",
    "use",
    "using",
]
