"""Errors raised by ``labadvisor.contexts``; every message says what was wrong and what was kept."""

from __future__ import annotations


class ContextError(Exception):
    """Base class: something about a Docker context stopped the operation; nothing was changed."""


class InvalidContextNameError(ContextError, ValueError):
    """The target is not a usable context name (empty, not a string, or fails Docker's pattern)."""


class ContextNotFoundError(ContextError, LookupError):
    """No context of that name (or role) exists in the store."""


class AmbiguousContextError(ContextError, LookupError):
    """A role such as "offload" matches several contexts and none of them is the preferred one."""


class StoreError(ContextError, OSError):
    """The context store or config.json cannot be read, parsed or written."""


class EngineUnreachableError(ContextError, ConnectionError):
    """The engine behind a context did not answer; carries the context, endpoint and cause."""

    def __init__(self, message: str, *, context: str, endpoint: str | None, cause: str) -> None:
        super().__init__(message)
        self.context = context
        self.endpoint = endpoint
        self.cause = cause


class OffloadError(ContextError):
    """A ``docker offload`` command failed."""


class OffloadNotInstalledError(OffloadError):
    """The ``docker offload`` CLI plugin is missing (it ships with Docker Desktop 4.50+)."""
