"""The dead record of a payload that can never run: pure, no I/O.

A payload that is not JSON (or not UTF-8), not an object, has no usable ``class`` or whose
``args`` is not a list goes straight to the dead set (bad input never stops a worker).
Its record keeps:

- ``error_class`` ``henchman.PayloadError``, the reason in ``error_message``, ``failed_at``,
  ``retry: false``, the queue it came from and a jid (the payload's own, else a new one);
- the original bytes, **in full up to** :data:`RAW_PAYLOAD_LIMIT` (1 MiB): as text in
  ``raw_payload`` (bytes that are not UTF-8 replaced by U+FFFD) and, when they are not UTF-8,
  exactly in ``raw_payload_base64``. ``raw_payload_size`` is always the original size in bytes.
  A longer payload keeps its first 1 MiB in those fields, ``raw_payload_cut`` says how many bytes
  were cut from its end, and ``error_message`` says so too: nothing is dropped silently, and one
  5 MB piece of garbage makes a record of a few MB at most instead of several times its size;
- the payload's own fields when it was a JSON object within the limit (``args`` that are not a
  list moved to ``invalid_args``); of a larger object only ``jid``, ``class`` and ``queue``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from henchman import payload as wire
from henchman.errors import PayloadError

__all__ = ["INVALID_PAYLOAD_CLASS", "RAW_PAYLOAD_LIMIT", "invalid_record"]

INVALID_PAYLOAD_CLASS = "henchman.InvalidPayload"
#: Bytes of an unreadable payload its dead record keeps (the rest is counted, not kept).
RAW_PAYLOAD_LIMIT = 1024 * 1024
#: Longest jid/class/queue string copied from an over-limit payload.
_SHORT = 200
_MAX_ERROR_MESSAGE = 10_000


def invalid_record(
    raw: bytes | str, queue: str, reason: str, *, now: float, new_jid: Callable[[], str]
) -> dict[str, Any]:
    """The dead record for ``raw``, unreadable for ``reason`` (see the module docstring)."""
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else bytes(raw)
    size = len(data)
    kept = _cut(data, RAW_PAYLOAD_LIMIT)
    record = _own_fields(data, size)
    if not isinstance(record.get("class"), str) or not record["class"]:
        record["class"] = INVALID_PAYLOAD_CLASS
    if type(record.get("args")) is not list:
        if "args" in record:
            record["invalid_args"] = record["args"]
        record["args"] = []
    if not isinstance(record.get("queue"), str):
        record["queue"] = queue
    if not isinstance(record.get("jid"), str) or not record["jid"]:
        record["jid"] = new_jid()
    record.setdefault("retry", False)
    message = reason
    if len(kept) < size:
        message += (
            f" (the payload is {size:,} bytes: this record keeps its first {len(kept):,} in "
            "raw_payload)"
        )
    record.update(
        error_message=message[:_MAX_ERROR_MESSAGE],
        error_class="henchman.PayloadError",
        failed_at=now,
        raw_payload=wire.raw_text(kept),
        raw_payload_size=size,
    )
    if len(kept) < size:
        record["raw_payload_cut"] = size - len(kept)
    if not wire.is_utf8(kept):  # keep the exact bytes too when text cannot hold them
        record["raw_payload_base64"] = base64.b64encode(kept).decode()
    return record


def _cut(data: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes, not ending inside a UTF-8 character when ``data`` is text."""
    if len(data) <= limit:
        return data
    head = data[:limit]
    if wire.is_utf8(data):
        head = head.decode("utf-8", errors="ignore").encode()
    return head


def _own_fields(data: bytes, size: int) -> dict[str, Any]:
    """The payload's fields worth keeping (see the module docstring); {} if not an object."""
    try:
        found = wire.decode_loose(data)
    except PayloadError:
        return {}
    if size <= RAW_PAYLOAD_LIMIT:
        return dict(found)
    return {
        name: found[name]
        for name in ("jid", "class", "queue")
        if isinstance(found.get(name), str) and len(found[name]) <= _SHORT
    }
