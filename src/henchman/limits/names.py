"""Checks on limiter definitions: one clear ``ValueError`` line for each bad value."""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"[A-Za-z0-9_-]+")

#: Calendar intervals a bucket limiter counts in, in seconds (UTC).
INTERVALS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def check_name(name: object) -> str:
    """``name`` if it is a valid limiter name (letters, digits, ``-``, ``_``; 1-100 long)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 100:
        raise ValueError(f"invalid limiter name {name!r}: use 1-100 letters, digits, '-' or '_'")
    return name


def check_count(what: str, value: object) -> int:
    """``value`` if it is a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"limiter {what} must be a whole number >= 1, not {value!r}")
    return value


def check_seconds(what: str, value: object, *, allow_zero: bool = False) -> float:
    """``value`` as seconds if it is a positive number (or zero when ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"limiter {what} must be a number of seconds, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or not math.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"limiter {what} must be {bound} seconds, not {value!r}")
    return float(value)


def check_interval(value: object) -> int:
    """A bucket interval name as seconds."""
    if not isinstance(value, str) or value not in INTERVALS:
        raise ValueError(f"bucket interval must be one of {', '.join(INTERVALS)}, not {value!r}")
    return INTERVALS[value]
