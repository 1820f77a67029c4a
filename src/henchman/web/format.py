"""Formatting for templates: numbers, durations, times and job arguments. Pure functions.

Everything returning :class:`markupsafe.Markup` escapes what it interpolates, so templates can
rely on autoescaping for the rest (job args are escaped everywhere).
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

import orjson
from markupsafe import Markup

__all__ = [
    "args_preview",
    "bytes_from_kb",
    "display_args",
    "duration",
    "exact_time",
    "iso_time",
    "number",
    "pretty_json",
    "relative_time",
    "time_tag",
    "truncate",
]

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def number(value: float | None) -> str:
    """``1,234,567``; ``-`` for None; floats keep up to two decimals."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``5 min 3 s``, ``2 h 5 min``, ``3 d 4 h``."""
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    parts: list[str] = []
    remainder = int(seconds)
    for size, unit in _UNITS:
        if remainder >= size:
            parts.append(f"{remainder // size} {unit}")
            remainder %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def relative_time(epoch: float, now: float) -> str:
    """``just now``, ``3 min ago``, ``in 2 h 5 min``."""
    delta = epoch - now
    if abs(delta) < 1:
        return "just now"
    text = duration(abs(delta)) if abs(delta) >= 60 else f"{abs(delta):.0f} s"
    return f"in {text}" if delta > 0 else f"{text} ago"


def exact_time(epoch: float | None) -> str:
    """``2025-02-14 08:43:20 UTC`` or ``-``."""
    if epoch is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, for ``<time datetime>``."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_tag(epoch: float | None, now: float) -> Markup:
    """``<time>`` showing the relative time, the exact UTC time on hover (the script refreshes
    the relative text and adds local time)."""
    if epoch is None:
        return Markup("<span class='muted'>-</span>")
    try:
        iso = iso_time(epoch)
    except (OverflowError, OSError, ValueError):
        return Markup("<span class='muted'>{}</span>").format(epoch)
    return Markup('<time datetime="{}" title="{}" data-rel>{}</time>').format(
        iso, exact_time(epoch), relative_time(epoch, now)
    )


def bytes_from_kb(kb: int | None) -> str:
    """Resident memory given in KB as ``512 KB``, ``1.5 MB``, ``2.1 GB``."""
    if not kb:
        return "-"
    value = float(kb)
    for unit in ("KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "KB" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def truncate(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_args(item: dict[str, Any]) -> list[Any]:
    """A payload's arguments as the UI shows them: an encrypted payload's last argument
    is ``"[encrypted]"``."""
    args = item.get("args")
    if not isinstance(args, list):
        return []
    if item.get("encrypt") is True and args:
        return [*args[:-1], "[encrypted]"]
    return args


def args_preview(args: Any, limit: int = 120) -> str:
    """Job arguments as compact JSON without the outer brackets, cut to ``limit`` characters."""
    return truncate(_args_text(args), limit)


class Preview(NamedTuple):
    """The start of a long text as a list page shows it, and how many characters were cut."""

    text: str
    cut: int


def preview(text: str, limit: int = 120) -> Preview:
    """``text`` cut to ``limit`` characters (an ellipsis included) and the count left out."""
    if len(text) <= limit:
        return Preview(text, 0)
    return Preview(text[: limit - 1] + "…", len(text) - (limit - 1))


def args_cut(args: Any, limit: int = 120) -> Preview:
    """:func:`preview` of job arguments written as by :func:`args_preview`."""
    return preview(_args_text(args), limit)


def _args_text(args: Any) -> str:
    try:
        text = orjson.dumps(args).decode()
    except TypeError:
        text = repr(args)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text


def pretty_json(value: Any) -> str:
    """Indented JSON (sorted keys) for detail pages."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(value)
