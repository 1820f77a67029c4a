"""Batch decisions with no I/O: ids, callback validation and templates, the commit spec, and the
status read from a batch's hash and sets.

The accounting itself (what counts as pending, when ``complete``/``success``/``death`` fire) runs
in Redis, in ``batch_lib.lua``, because it must be one atomic step with the job's
acknowledgement; :func:`conditions` states the same rules in Python for the status view.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from henchman import payload as wire
from henchman.errors import BatchError

#: The three callbacks, in Sidekiq Pro's meaning (see docs/batches.md).
EVENTS = ("complete", "success", "death")
#: Placeholders the Lua scripts replace when a callback fires (spelled the same in batch_lib.lua).
STATUS_MARK = "__henchman_batch_status_7c1e__"
JID_MARK = "__henchman_batch_jid_52ab__"
#: A batch is kept this long while pending, and this long after its success (Sidekiq Pro's).
PENDING_TTL = 30 * 24 * 3600
SUCCESS_TTL = 24 * 3600


def new_bid() -> str:
    """A batch id in Sidekiq Pro's format: 14 URL-safe base64 characters (80 random bits)."""
    return secrets.token_urlsafe(10)


def family_bid(bid: str, parent: str | None, cluster: bool) -> str:
    """The bid a new batch takes once its parent is known: in the cluster layout a child's bid
    starts with its root's (``<root>.<own>``) so its keys share the family's hash tag; else
    ``bid`` unchanged."""
    if not cluster or parent is None:
        return bid
    root = parent.split(".", 1)[0]
    if bid.startswith(root + "."):
        return bid
    return f"{root}.{bid.rsplit('.', 1)[-1]}"


def check_event(event: str) -> str:
    """``event`` if it is a callback name, else :class:`BatchError` naming the choices."""
    if event not in EVENTS:
        raise BatchError(f"unknown batch callback {event!r}: use 'complete', 'success' or 'death'")
    return event


def check_options(options: Any) -> dict[str, Any]:
    """Callback options must be a JSON object (a dict with str keys and JSON-native values)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise BatchError(
            f"batch callback options must be a JSON object (a dict), not {type(options).__name__}"
        )
    try:
        wire.check_args([dict(options)])
    except TypeError as exc:
        raise BatchError(f"batch callback options are not JSON: {exc}") from None
    return dict(options)


@dataclass(frozen=True, slots=True)
class Callback:
    """One registered callback: the job's wire name and options, and the callback options."""

    event: str
    name: str
    job_options: dict[str, Any]
    options: dict[str, Any]

    def template(self, callback_queue: str | None, parent: str | None) -> list[str]:
        """``[queue, payload template]`` for ``batch_lib.lua``'s ``fire``: the payload with the
        status and jid as placeholders and no timestamps (the script appends them)."""
        options = dict(self.job_options)
        if callback_queue:
            options["queue"] = callback_queue
        if parent:
            options["bid"] = parent
        payload = wire.build(self.name, [STATUS_MARK, self.options], options, now=0.0, jid=JID_MARK)
        payload.pop("created_at", None)
        payload.pop("enqueued_at", None)
        return [str(payload["queue"]), wire.encode(payload).decode()]


def callback_fields(
    callbacks: list[Callback], callback_queue: str | None, parent: str | None
) -> dict[str, str]:
    """The hash fields ``cb-<event>`` (JSON lists of templates) for a new batch."""
    fields: dict[str, list[list[str]]] = {}
    for callback in callbacks:
        fields.setdefault(f"cb-{callback.event}", []).append(
            callback.template(callback_queue, parent)
        )
    return {name: orjson.dumps(value).decode() for name, value in fields.items()}


def mark_bid(raw: bytes, bid: str) -> bytes:
    """``raw`` with ``"bid": bid`` as its last key (JSON readers keep the last duplicate), so a
    bulk push's pre-encoded payloads join a batch without being decoded again."""
    return b"".join((raw[:-1], b',"bid":"', bid.encode(), b'"}'))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A batch as read from Redis in one round trip (see :func:`parse`)."""

    bid: str
    description: str | None
    callback_queue: str | None
    parent_bid: str | None
    total: int
    pending: int
    failures: int
    created_at: float | None
    complete_at: float | None
    success_at: float | None
    death_at: float | None
    expires_at: float | None
    failed_jids: list[str]
    dead_jids: list[str]
    child_bids: list[str]
    callbacks: dict[str, list[str]]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: Any) -> float | None:
    text = _text(value)
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _names(values: Any) -> list[str]:
    return sorted(v.decode() if isinstance(v, bytes) else str(v) for v in values or ())


def parse(
    bid: str,
    fields: Mapping[Any, Any],
    pending: int,
    failed: Any,
    died: Any,
    kids: Any,
) -> Snapshot | None:
    """A :class:`Snapshot` from the batch hash and sets; ``None`` if the hash is gone."""
    data = {_text(k): v for k, v in fields.items()}
    if not data:
        return None
    callbacks: dict[str, list[str]] = {}
    for event in EVENTS:
        raw = data.get(f"cb-{event}")
        if raw is not None:
            try:
                callbacks[event] = [orjson.loads(t[1]).get("class", "?") for t in orjson.loads(raw)]
            except (orjson.JSONDecodeError, TypeError, IndexError, AttributeError):
                callbacks[event] = ["?"]
    failed_jids = _names(failed)
    return Snapshot(
        bid=bid,
        description=_text(data.get("description")),
        callback_queue=_text(data.get("cbq")),
        parent_bid=_text(data.get("parent")),
        total=int(_number(data.get("total")) or 0),
        pending=int(pending),
        failures=len(failed_jids),
        created_at=_number(data.get("created_at")),
        complete_at=_number(data.get("complete_at")),
        success_at=_number(data.get("success_at")),
        death_at=_number(data.get("death_at")),
        expires_at=_number(data.get("expires_at")),
        failed_jids=failed_jids,
        dead_jids=_names(died),
        child_bids=_names(kids),
        callbacks=callbacks,
    )
