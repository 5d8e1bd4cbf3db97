"""What kind of engine a context points at: "offload", "local" or "remote"."""

from __future__ import annotations

ROLES = ("local", "offload")
OFFLOAD_CONTEXT = "docker-cloud"  # the context `docker offload start` creates
DESKTOP_CONTEXT = "desktop-linux"  # Docker Desktop's local engine
# Docker Offload's endpoint is a unix socket under ~/.docker/cloud/.
_OFFLOAD_SOCKET_MARK = "/.docker/cloud/"


def role_of(name: str, host: str | None) -> str:
    if name == OFFLOAD_CONTEXT or (
        host is not None and host.startswith("unix://") and _OFFLOAD_SOCKET_MARK in host
    ):
        return "offload"
    if name in ("default", DESKTOP_CONTEXT) or (
        host is not None and host.startswith(("unix://", "npipe://"))
    ):
        return "local"
    return "remote"
