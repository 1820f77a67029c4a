"""Push planning: everything about a push that is a decision, with no I/O.

The sync and asyncio clients call :func:`plan_push` / :func:`plan_bulk` and then only move the
planned bytes to Redis, so the two shells cannot disagree about the payload.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import orjson

from henchman import payload as wire
from henchman.errors import ConfigError
from henchman.push_options import check_timeout, is_sealed, stamp_expiry
from henchman.queue_names import check_queue_name

#: A client middleware: ``(job_name, payload, queue) -> payload | None`` (``None`` drops the push).
ClientMiddleware = Callable[[str, dict[str, Any], str], "dict[str, Any] | None"]


class ScriptedWrite(NamedTuple):
    """A push written by one Lua script instead of the plain ``LPUSH``/``ZADD``, so a check and
    the write are one atomic step (e.g. a unique job's lock). The script (a name in
    :mod:`henchman.redis.scripts`) gets ``keys``, then ``args`` followed by the encoded payload
    as its last argument; it replies ``1`` when it stored the job, anything else means it
    refused, and ``refusal`` (formatted with ``reply=``) is logged."""

    script: str
    keys: list[str]
    args: list[Any]
    refusal: str = "push refused: {reply}"


class PushPlan(NamedTuple):
    """One payload ready to write: to ``queue:<queue>`` now, or to ``schedule`` at ``at``; or,
    when ``script`` is set, by that script (which decides whether it is stored at all).

    A named tuple rather than a frozen dataclass: a bulk push makes one per job, and a tuple is
    built several times faster."""

    jid: str
    queue: str
    raw: bytes
    at: float | None = None
    script: ScriptedWrite | None = None


class PushHook(Protocol):
    """Turns some pushes into a :class:`ScriptedWrite` (the app's ``push_hooks``). Pushes no hook
    claims keep the plain write: a hook only costs its own check."""

    def script_for(
        self, payload: dict[str, Any], at: float | None, now: float
    ) -> ScriptedWrite | None:
        """The script that must write this push, or ``None`` for the plain write. It may add
        fields to ``payload`` (encoded after every hook has run)."""

    def check_bulk(self, options: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` if a bulk push with ``options`` cannot be written plainly."""


def due_time(now: float, delay: float | None, at: float | None) -> float | None:
    """When a push should run: ``None`` for now; a time at or before ``now`` also means now."""
    when = at if at is not None else (now + delay if delay is not None else None)
    return when if when is not None and when > now else None


def plan_push(
    name: str,
    args: Sequence[Any],
    options: Mapping[str, Any],
    middleware: Sequence[ClientMiddleware],
    *,
    now: float,
    delay: float | None = None,
    at: float | None = None,
    jid: str | None = None,
    hooks: Sequence[PushHook] = (),
) -> PushPlan | None:
    """Validate, build, run client middleware and encode one push. ``None`` if dropped.

    Raises ``TypeError`` (naming ``args[i]...``) for arguments that are not JSON-native and
    ``ValueError`` for an invalid queue name (also one a client middleware set).
    """
    wire.check_args(args)
    return _plan_checked(
        name, args, options, middleware, now=now, when=due_time(now, delay, at), jid=jid,
        hooks=hooks,
    )  # fmt: skip


def _plan_checked(
    name: str,
    args: Sequence[Any],
    options: Mapping[str, Any],
    middleware: Sequence[ClientMiddleware],
    *,
    now: float,
    when: float | None,
    jid: str | None = None,
    hooks: Sequence[PushHook] = (),
) -> PushPlan | None:
    """:func:`plan_push` for arguments already checked."""
    payload = _build(name, args, options, now=now, jid=jid, when=when)
    for layer in middleware:
        result = layer(name, payload, str(payload["queue"]))
        if result is None:
            return None
        payload = result
    if payload.get("encrypt") is True and not is_sealed((payload.get("args") or [None])[-1]):
        # Never write a secret in clear because the sealing middleware is missing.
        raise ConfigError(
            f"{name}: encrypt=True but no encryption keys are configured "
            "(henchman.crypto.configure or HENCHMAN_ENCRYPTION_KEYS)"
        )
    queue = check_queue_name(payload.get("queue")) if middleware else str(payload["queue"])
    for hook in hooks:
        script = hook.script_for(payload, when, now)
        if script is not None:
            raw = wire.encode(payload)
            scripted = script._replace(args=[*script.args, raw])
            return PushPlan(payload["jid"], queue, raw, when, scripted)
    return PushPlan(payload["jid"], queue, wire.encode(payload), when)


def _build(
    name: str,
    args: Sequence[Any],
    options: Mapping[str, Any],
    *,
    now: float,
    jid: str | None,
    when: float | None,
) -> dict[str, Any]:
    """``wire.build`` plus the options that depend on push time: ``expires_in`` becomes an
    absolute ``expires_at`` (from the due time), ``timeout`` is checked. Raises ``ValueError``
    for a bad duration, before anything reaches Redis."""
    payload = wire.build(name, args, options, now=now, jid=jid, scheduled=when is not None)
    stamp_expiry(payload, due=now if when is None else when)
    check_timeout(payload)
    return payload


def plan_bulk(
    name: str,
    args_list: Iterable[Sequence[Any]],
    options: Mapping[str, Any],
    middleware: Sequence[ClientMiddleware],
    *,
    now: float,
    at: float | None = None,
    hooks: Sequence[PushHook] = (),
) -> list[PushPlan]:
    """Plan one push per argument list. Every list is validated before any is returned; a push
    hook that cannot take a bulk push with ``options`` raises ``ValueError`` first.

    Without client middleware the payloads of one bulk push differ only in ``args`` and ``jid``,
    so they are made from one encoded template (:func:`bulk_template`): the same bytes as
    :func:`plan_push` would make, for a fraction of the work per job.
    """
    for hook in hooks:
        hook.check_bulk(options)
    when = due_time(now, None, at)
    plain = not middleware and options.get("encrypt") is not True
    template = bulk_template(name, options, now=now, when=when) if plain else None
    if template is None:
        planned = []
        for index, args in enumerate(args_list):
            _check_item(index, args)
            plan = _plan_checked(name, args, options, middleware, now=now, when=when)
            if plan is not None:
                planned.append(plan)
        return planned
    head, middle, tail = template
    queue = str(options["queue"])
    items = args_list if isinstance(args_list, list | tuple) else list(args_list)
    jids = os.urandom(12 * len(items)).hex()  # one syscall, not one per job
    jid_bytes = jids.encode()
    dumps = orjson.dumps
    make = tuple.__new__  # PushPlan(...) runs a Python-level __new__: 4x slower per job
    plans: list[PushPlan] = []
    for index, args in enumerate(items):
        _check_item(index, args)
        start, end = 24 * index, 24 * index + 24
        raw = b"".join((head, dumps(args), middle, jid_bytes[start:end], tail))
        plans.append(make(PushPlan, (jids[start:end], queue, raw, when, None)))
    return plans


def _check_item(index: int, args: Any) -> None:
    """Raise ``TypeError`` naming bulk item ``index`` (and the path inside it) if it cannot be
    pushed: not a list of arguments, or arguments that are not JSON-native."""
    if not isinstance(args, list | tuple):
        raise TypeError(f"perform_bulk item {index} is {type(args).__name__}, not a list of args")
    try:
        wire.check_args(args)
    except TypeError as exc:
        raise TypeError(f"perform_bulk item {index}: {exc}") from None


#: Placeholders for the two per-job parts of a bulk template; they must not occur elsewhere.
_ARGS_MARK = "henchman-bulk-args-5f0c8e"
_JID_MARK = "henchman-bulk-jid-9a41d7"


def bulk_template(
    name: str, options: Mapping[str, Any], *, now: float, when: float | None
) -> tuple[bytes, bytes, bytes] | None:
    """``(head, middle, tail)`` so that ``head + json(args) + middle + jid + tail`` is exactly the
    payload :func:`plan_push` encodes; ``None`` when options make that unsafe (they set ``args``,
    ``jid`` or ``class``, or contain a placeholder)."""
    if "args" in options or "jid" in options or "class" in options:
        return None
    probe = _build(name, [], options, now=now, jid=_JID_MARK, when=when)
    probe["args"] = _ARGS_MARK
    raw = wire.encode(probe)
    args_mark, jid_mark = f'"{_ARGS_MARK}"'.encode(), _JID_MARK.encode()
    if raw.count(args_mark) != 1 or raw.count(jid_mark) != 1:
        return None
    head, _, rest = raw.partition(args_mark)
    middle, _, tail = rest.partition(jid_mark)
    if jid_mark in head:  # jid before args: cannot happen with wire.build's key order
        return None
    return head, middle, tail


def group_by_target(plans: Sequence[PushPlan]) -> dict[tuple[str, bool], list[PushPlan]]:
    """Group plans by (queue, scheduled) so a bulk push writes one command per group."""
    groups: dict[tuple[str, bool], list[PushPlan]] = {}
    for plan in plans:
        groups.setdefault((plan.queue, plan.at is not None), []).append(plan)
    return groups
