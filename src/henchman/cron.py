"""Cron schedule maths: pure functions, no Redis, no clock of their own.

::

    from datetime import datetime, timezone
    from henchman.cron import next_run

    next_run("*/5 * * * *", datetime(2025, 3, 1, 12, 2, tzinfo=timezone.utc), "Asia/Tokyo")
    # -> 2025-03-01 21:05:00+09:00 (the next run strictly after 12:02 UTC, in Tokyo time)

Expressions are standard 5-field cron (minute hour day-of-month month day-of-week) with names
(``jan``, ``mon``), ranges, lists and steps, and the ``@hourly``/``@daily``/``@weekly``/
``@monthly``/``@yearly`` shorthands. An optional sixth field in front holds seconds
(``*/2 * * * * *`` runs every two seconds): henchman's extension for sub-minute schedules.
When both day-of-month and day-of-week are restricted (neither starts with ``*``), a day matches
if either does (Vixie cron's rule); otherwise both must.

Time zones are IANA names (``zoneinfo``). Daylight-saving changes follow Debian's cron for
5-field expressions that name a specific minute and hour (``30 2 * * *``): a time skipped by the
spring-forward change runs once, right after the change; a time repeated by the fall-back
change runs once, at its first occurrence. Expressions whose minute or hour field starts with
``*`` (``*/15 * * * *``), and 6-field expressions, run on the real clock: every matching instant.

The parsing and matching are cronsim's (see docs/decisions.md); this module adds the shorthands,
time zones by name, the "strictly after" contract and henchman's one-line errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from henchman.errors import ConfigError

__all__ = ["CronError", "next_run", "normalize", "runs_after", "validate", "zone"]

_SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


#: ``5-5/2``: a one-value range with a step is that one value (Vixie cron); cronsim would read
#: it as ``5/2`` (5 to the field's maximum in steps of 2).
_DEGENERATE_STEP = re.compile(r"(?<![\w-])(\w+)-\1/\d+(?![\w-])")


class CronError(ConfigError):
    """An invalid cron expression or time zone; the message is one line naming it."""


def zone(tz: str | tzinfo | None) -> tzinfo:
    """The time zone for ``tz``: an IANA name, a ``tzinfo``, or ``None`` for UTC."""
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz.strip():
        raise CronError(f"invalid time zone {tz!r} (expected an IANA name like 'Europe/Paris')")
    try:
        return ZoneInfo(tz.strip())
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {tz!r} (expected an IANA name like 'Europe/Paris')"
        raise CronError(message) from None


def normalize(expression: str) -> str:
    """``expression`` with shorthands expanded and whitespace collapsed; raises
    :class:`CronError` if it is not a valid 5- or 6-field expression."""
    if not isinstance(expression, str):
        raise CronError(f"invalid cron expression {expression!r}: not a string")
    text = " ".join(expression.split())
    text = _SHORTHANDS.get(text.lower(), text)
    fields = text.split(" ") if text else []
    if len(fields) not in (5, 6):
        raise CronError(
            f"invalid cron expression {expression!r}: expected 5 fields (minute hour day month "
            f"weekday) or 6 with leading seconds, got {len(fields)}"
        )
    text = " ".join(_DEGENERATE_STEP.sub(r"\1", field) for field in fields)
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError, KeyError, IndexError) as exc:
        raise CronError(f"invalid cron expression {expression!r}: {_reason(exc)}") from None
    return text


def validate(expression: str, tz: str | tzinfo | None = None) -> str:
    """Check ``expression`` and ``tz`` (and that the expression ever matches); return the
    normalized expression. Raises :class:`CronError` with one line naming what is wrong."""
    text = normalize(expression)
    zone(tz)
    try:
        next(CronSim(text, datetime(2000, 1, 1, tzinfo=UTC)))
    except StopIteration:
        raise CronError(f"invalid cron expression {expression!r}: it never matches") from None
    return text


def next_run(expression: str, after: datetime, tz: str | tzinfo | None = None) -> datetime:
    """The first run of ``expression`` strictly after ``after`` (an aware datetime), as an aware
    datetime in ``tz`` (an IANA name, a ``tzinfo`` or ``None`` for UTC).

    Raises :class:`CronError` for an invalid expression or zone, ``ValueError`` for a naive
    ``after``."""
    for run in runs_after(expression, after, tz):
        return run
    raise CronError(f"cron expression {expression!r} has no run in the 50 years after {after}")


def runs_after(
    expression: str, after: datetime, tz: str | tzinfo | None = None
) -> Iterator[datetime]:
    """Every run of ``expression`` strictly after ``after``, in order (see :func:`next_run`)."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_run() needs a timezone-aware 'after' datetime")
    text = normalize(expression)
    where = zone(tz)
    while True:
        found = _step(text, where, after)
        if found is None:
            return
        yield found
        after = found


def _step(text: str, where: tzinfo, after: datetime) -> datetime | None:
    """The first run strictly after ``after``, or None when cronsim finds none in 50 years."""
    floor = after.timestamp()
    start = after.astimezone(where)
    # cronsim walks specific-time schedules in wall-clock time, so around a fall-back change it
    # can offer a wall time that is, in real time, not after ``after``: skip it.
    for candidate in CronSim(text, start):
        if candidate.timestamp() <= floor:
            continue
        if not _wall_clock(text) and candidate.utcoffset() != start.utcoffset():
            return _earliest(text, candidate, floor)
        return candidate
    return None


def _wall_clock(text: str) -> bool:
    """Whether cronsim walks this expression in wall-clock time (Debian's DST handling)."""
    fields = text.split(" ")
    return len(fields) == 5 and not fields[0].startswith("*") and not fields[1].startswith("*")


def _earliest(text: str, candidate: datetime, floor: float) -> datetime:
    """cronsim's real-clock walk can step past matches when it crosses a change of UTC offset
    that is not a whole hour (Lord Howe Island's 30-minute DST): walk back from ``candidate``
    to the earliest run after ``floor``."""
    while True:
        earlier = next(CronSim(text, candidate, reverse=True), None)
        if earlier is None or earlier.timestamp() <= floor:
            return candidate
        candidate = earlier


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[0].lower() + text[1:] if text else text
