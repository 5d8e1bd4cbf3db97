"""Errors raised by ``labadvisor.contexts``; every message says what was wrong and what was kept."""

from __future__ import annotations

# The longest quotation of a value in a message: a 2 MB context name must not come back whole.
QUOTE_LIMIT = 100


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters with the full length
    said. Safe for any value, also an int too long for ``repr``."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 300:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not replace the real error
        text = f"<{type(value).__name__}>"
    return shortened(text, limit)


def shortened(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` unquoted, cut to ``limit`` characters with the full length said when longer."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
