"""Docker contexts for the notebook kernel: list them, see which is in effect, switch between
the local engine and Docker Offload, and talk to the engine behind one.

``import labadvisor.contexts`` reads nothing and does not import docker-py; a kernel-scope
``use()`` of a unix:// or tcp:// context does not import it either. Only :func:`client` does.
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
from labadvisor.contexts.listing import ContextInfo, ContextList, list_contexts
from labadvisor.contexts.offload import OffloadStatus
from labadvisor.contexts.resolve import CurrentContext, current
from labadvisor.contexts.roles import ROLES
from labadvisor.contexts.switch import SCOPES, SwitchResult, use, using

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
    "OffloadError",
    "OffloadNotInstalledError",
    "OffloadStatus",
    "StoreError",
    "SwitchResult",
    "client",
    "current",
    "engine_info",
    "list_contexts",
    "offload",
    "ping",
    "use",
    "using",
]
