"""Parsing and validating the quantities users type: sizes, hours, dtypes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

_SIZE_PATTERN = re.compile(
    r"^\s*([+-]?[0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE
)
_UNIT_TO_GB = {
    "b": 1e-9,
    "kb": 1e-6,
    "mb": 1e-3,
    "gb": 1.0,
    "tb": 1e3,
    "kib": 1024 / 1e9,
    "mib": 1024**2 / 1e9,
    "gib": 1024**3 / 1e9,
    "tib": 1024**4 / 1e9,
}


def normalize_name(name: str) -> str:
    """'Code Generation', 'code_generation' and 'CODE-generation' all become 'code-generation'."""
    return re.sub(r"[\s_\-]+", "-", name.strip().lower()).strip("-")


def check_finite_number(
    value: object,
    what: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Return ``value`` as a float, or raise ValueError naming the value and the valid range."""
    valid = _describe_range(minimum, maximum, strict_minimum)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number ({valid}), got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number ({valid}), got {value!r}")
    too_low = minimum is not None and (number <= minimum if strict_minimum else number < minimum)
    too_high = maximum is not None and number > maximum
    if too_low or too_high:
        raise ValueError(f"{what} must be {valid}, got {value!r}")
    return number


def _describe_range(minimum: float | None, maximum: float | None, strict_minimum: bool) -> str:
    if minimum is not None and maximum is not None:
        if strict_minimum:
            return f"greater than {minimum:g} and at most {maximum:g}"
        return f"between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"greater than {minimum:g}" if strict_minimum else f"at least {minimum:g}"
    if maximum is not None:
        return f"at most {maximum:g}"
    return "any finite number"


def parse_size_gb(value: object, what: str = "model size") -> float:
    """Accept 13, 13.0, '13', '13GB', '13 GiB', '500MB'; return gigabytes (10**9 bytes)."""
    if isinstance(value, str):
        match = _SIZE_PATTERN.match(value)
        if not match:
            raise ValueError(
                f"{what} {value!r} is not a size; write a number of GB or a number with a unit "
                f"({', '.join(sorted(_UNIT_TO_GB))}), e.g. '13GB'"
            )
        number, unit = float(match.group(1)), (match.group(2) or "gb").lower()
        if not unit.endswith("b"):
            unit += "b"
        if number < 0:  # named as written ("-5GB"), not as the GB figure it converts to
            raise ValueError(f"{what} must be at least 0, got {value!r}")
        return check_finite_number(number * _UNIT_TO_GB[unit], what, minimum=0)
    return check_finite_number(value, what, minimum=0)


def check_hours_per_day(value: object) -> float:
    return check_finite_number(value, "hours_per_day", minimum=0, maximum=24)


def bytes_per_parameter(dtype: object) -> float:
    """Bytes one parameter takes in ``dtype`` (fp32 4, fp16/bf16 2, int8 1, int4 0.5)."""
    from labadvisor.guides import model_facts

    return model_facts().bytes_per_parameter(dtype)


def gb_text(value: float, lines: Iterable[float] = ()) -> str:
    """``value`` (GB) as people read it, with enough digits to stay on the same side of each
    of ``lines`` as the exact figure: 0.996 next to the 1 GB line is "0.996", not "1"."""
    marks = [line for line in lines if math.isfinite(line)]

    def same_side(text: str) -> bool:
        shown = float(text)
        return all((shown > m) - (shown < m) == (value > m) - (value < m) for m in marks)

    first = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if "e" not in first and same_side(first):
        return first
    for decimals in range(1, 16):
        text = f"{value:.{decimals}f}"
        if same_side(text):
            return text.rstrip("0").rstrip(".") if "." in text else text
    return repr(value)
