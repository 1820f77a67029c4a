"""The wire format of a job: build, validate, encode and decode. Pure: no I/O, no clock reads.

A payload is the JSON object Sidekiq reads and writes::

    {"class": "app.jobs.send_email", "args": [42], "retry": true, "queue": "default",
     "jid": "b4a577edbccf1d805744efa9", "created_at": 1700000000.123, "enqueued_at": 1700000000.123}

Guarantees:

* ``retry`` is always present (Ruby Sidekiq silently drops a job without it whose class it cannot
  load).
* Timestamps are written as float epoch seconds with a decimal point; readers accept Sidekiq 8's
  integer milliseconds too (:func:`epoch_seconds`).
* Arguments are JSON-native or the push fails with ``TypeError`` naming the path of the bad value,
  before anything is written anywhere (:func:`check_args`).
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from henchman.errors import PayloadError
from henchman.queue_names import check_queue_name

Payload = dict[str, Any]

#: Keys henchman writes itself; everything else in a payload is an option or a failure field.
CORE_KEYS = ("class", "args", "retry", "queue", "jid", "created_at", "enqueued_at")

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: Integer epoch values above this are milliseconds (year 5138 in seconds).
_MILLIS_THRESHOLD = 10**11


def new_jid() -> str:
    """A fresh job id: 24 lowercase hex characters, as Sidekiq makes them."""
    return os.urandom(12).hex()


def check_args(args: Sequence[Any]) -> None:
    """Raise ``TypeError`` naming ``args[i]...`` for the first value that is not JSON-native."""
    for index, value in enumerate(args):
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is float:
            if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
                continue
        elif kind is int and _INT_MIN <= value <= _INT_MAX:
            continue
        _check_value(value, f"args[{index}]")


#: Deepest nesting accepted (orjson's own limit); also what stops a self-referencing list.
MAX_DEPTH = 254


def _check_value(value: Any, path: str, depth: int = 0) -> None:
    kind = type(value)
    if depth > MAX_DEPTH:
        raise TypeError(f"{path} is nested more than {MAX_DEPTH} levels deep (or refers to itself)")
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise TypeError(f"{path} = {value!r} is outside the 64-bit range JSON readers accept")
        return
    if kind is float:
        if not math.isfinite(value):
            raise TypeError(f"{path} = {value!r} is not a finite number and cannot be JSON")
        return
    if kind is list or kind is tuple:  # a tuple travels as a JSON array: the job gets a list
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]", depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{path} has a non-string key {key!r}: JSON keys must be str")
            _check_value(item, f"{path}[{key!r}]", depth + 1)
        return
    raise TypeError(
        f"{path} = {_short_repr(value)} is a {kind.__name__}, not JSON-native "
        "(str, int, float, bool, None, list, dict with str keys); convert it before pushing"
    )


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} with a failing __repr__>"
    return text if len(text) <= 80 else text[:77] + "..."


def build(
    name: str,
    args: Sequence[Any],
    options: Mapping[str, Any],
    *,
    now: float,
    jid: str | None = None,
    scheduled: bool = False,
) -> Payload:
    """Build a payload for job ``name``. ``options`` must contain ``queue`` and ``retry``.

    Scheduled jobs carry no ``enqueued_at`` until the poller moves them (as in Sidekiq).
    Raises ``ValueError`` for a queue name :mod:`henchman.queue_names` refuses.
    """
    now = float(now)  # Sidekiq 8 reads an integer timestamp as milliseconds
    payload: Payload = {"class": name, "args": list(args)}
    payload.update(options)
    check_queue_name(payload.get("queue"))
    payload["jid"] = jid or new_jid()
    payload.setdefault("created_at", now)
    if scheduled:
        payload.pop("enqueued_at", None)
    else:
        payload["enqueued_at"] = now
    return payload


def seconds_option(value: Any, option: str) -> float:
    """A duration option (``expires_in``, ``timeout``) as positive finite seconds.

    Accepts a number or a ``timedelta``; raises ``ValueError`` naming the option otherwise.
    """
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"option {option!r} must be a positive number of seconds or a timedelta, "
            f"got {_short_repr(value)}"
        )
    return seconds


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialize a payload. Callers validate args first; this only serializes."""
    return orjson.dumps(payload)


def decode(raw: bytes | str) -> Payload:
    """Parse and check a payload read from Redis; raise :class:`PayloadError` saying why not."""
    payload = decode_loose(raw)
    if "class" not in payload:
        raise PayloadError("payload has no 'class' naming the job")
    name = payload["class"]
    if not isinstance(name, str):
        raise PayloadError(f"payload 'class' is {_short_repr(name)}, not a job name (a string)")
    if not name:
        raise PayloadError("payload 'class' is an empty string, not a job name")
    if type(payload.get("args")) is not list:
        raise PayloadError(f"payload 'args' is {_short_repr(payload.get('args'))}, not a list")
    return payload


def epoch_seconds(value: Any) -> float | None:
    """A payload timestamp as float seconds: float seconds as-is, integer milliseconds scaled."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and value > _MILLIS_THRESHOLD:
        return value / 1000.0
    return float(value)


def raw_text(raw: bytes | str) -> str:
    """Raw payload bytes as text for error records (undecodable bytes replaced, never raises)."""
    return raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")


def decode_loose(raw: bytes | str) -> Payload:
    """Parse ``raw`` as a JSON object without checking job fields (for error records)."""
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(_unreadable(raw, exc)) from None
    if type(found) is not dict:
        raise PayloadError(f"payload is a JSON {type(found).__name__}, not an object")
    return found


def _unreadable(raw: bytes | str, exc: orjson.JSONDecodeError) -> str:
    """Why ``raw`` could not be parsed: bad UTF-8 (orjson reports it at line 1 column 1,
    wherever the byte is), nothing at all, or the JSON error with its position."""
    prefix = "payload is not valid JSON:"
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return (
                f"{prefix} invalid UTF-8 byte 0x{data[bad.start]:02x} at offset {bad.start} "
                f"(of {len(data):,} bytes)"
            )
        text = data.decode("utf-8")
    else:
        text = raw
    if not text.strip():
        return f"{prefix} the payload is empty" if not text else f"{prefix} only whitespace"
    return f"{prefix} {exc}"


def is_utf8(raw: bytes | str) -> bool:
    """Whether ``raw`` is text or valid UTF-8 bytes."""
    if isinstance(raw, str):
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
