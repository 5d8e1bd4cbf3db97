"""What the API accepts and answers: request bodies within limits, strict JSON both ways.

A body is refused before it is parsed when it is larger than :data:`MAX_BODY_BYTES`; once
parsed it must nest no deeper than :data:`MAX_DEPTH` and hold only numbers a float can
carry (no NaN, no infinity, no integer beyond float range). Answers are encoded with
``allow_nan=False``, so a browser's ``JSON.parse`` can always read them. Values quoted back
in messages are cut to :data:`QUOTE_LIMIT` characters.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from labadvisor.contexts.errors import QUOTE_LIMIT, quoted

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
# The largest integer a float carries without becoming infinity.
_FLOAT_MAX_INT = int(sys.float_info.max)


class BadRequest(Exception):
    """The request cannot be served as sent; ``status`` (400 or 413) and a message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def long_strings(value: Any) -> list[str]:
    """The strings (keys too) in a parsed body longer than QUOTE_LIMIT, longest first."""
    found: set[str] = set()
    level = [value]
    while level:
        inner: list[Any] = []
        for item in level:
            if isinstance(item, str) and len(item) > QUOTE_LIMIT:
                found.add(item)
            elif isinstance(item, dict):
                inner.extend(item)
                inner.extend(item.values())
            elif isinstance(item, list):
                inner.extend(item)
        level = inner
    return sorted(found, key=len, reverse=True)


def cut_quotes(message: str, values: list[str]) -> str:
    """``message`` with each of ``values`` it quotes cut as :func:`quoted` cuts it."""
    for value in values:
        if value in message:
            short = quoted(value)
            message = message.replace(repr(value), short).replace(value, short)
    return message


def shortened(message: str, limit: int = 2000) -> str:
    """``message`` cut in the middle when longer than ``limit``: the start says what is
    wrong and the end usually lists the valid values."""
    if len(message) <= limit:
        return message
    half = limit // 2
    return f"{message[:half]} [... {len(message) - limit} characters ...] {message[-half:]}"


def check_length(declared: str | None) -> None:
    """Refuse a body whose Content-Length is over the limit, before it is read."""
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(f"Content-Length must be a number, got {quoted(declared)}") from None
    if length > MAX_BODY_BYTES:
        raise BadRequest(_too_large(length), status=413)


def _too_large(size: int) -> str:
    return f"request body of {size} bytes is over the limit of {MAX_BODY_BYTES} bytes"


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"request body holds {name}, which JSON does not allow; send a finite number")


def _parse_int(text: str) -> int:
    # A float comparison would overflow on the way; compare digit counts first, then values.
    digits = text.lstrip("-")
    if len(digits) > len(str(_FLOAT_MAX_INT)) or abs(int(text)) > _FLOAT_MAX_INT:
        raise BadRequest(
            f"request body holds an integer of {len(digits)} digits, beyond what a number "
            f"can carry here (at most about 1.8e308)"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(
            f"request body holds the number {quoted(text)}, too large to be finite "
            f"(at most about 1.8e308)"
        )
    return value


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object within the limits, or BadRequest saying what is wrong.
    An empty body is an empty object."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(_too_large(len(body)), status=413)
    try:
        text = body.decode("utf-8") if body else "{}"
    except UnicodeDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: not UTF-8 ({exc.reason})") from None
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except RecursionError:
        raise BadRequest(_too_deep()) from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise BadRequest(f"request body is not valid JSON: {quoted(str(exc))}") from None
    if _depth(value) > MAX_DEPTH:
        raise BadRequest(_too_deep())
    if not isinstance(value, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(value).__name__}")
    return value


def _too_deep() -> str:
    return f"request body nests deeper than {MAX_DEPTH} levels"


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar: 0, ``[]``: 1), counting no further than
    MAX_DEPTH + 1. Level by level, so a deep value cannot exhaust the stack."""
    depth = 0
    level = [value]
    while depth <= MAX_DEPTH:
        containers = [item for item in level if isinstance(item, (dict, list))]
        if not containers:
            break
        depth += 1
        level = [child for c in containers for child in (c.values() if isinstance(c, dict) else c)]
    return depth


def encode(data: Any) -> str:
    """``data`` as strict JSON; ValueError when it holds NaN or infinity."""
    return json.dumps(data, allow_nan=False)
