"""Push planning: everything about a push that is a decision, with no I/O.

The sync and asyncio clients call :func:`plan_push` / :func:`plan_bulk` and then only move the
planned bytes to Redis, so the two shells cannot disagree about the payload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from henchman import payload as wire

#: A client middleware: ``(job_name, payload, queue) -> payload | None`` (``None`` drops the push).
ClientMiddleware = Callable[[str, dict[str, Any], str], "dict[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class PushPlan:
    """One payload ready to write: to ``queue:<queue>`` now, or to ``schedule`` at ``at``."""

    jid: str
    queue: str
    raw: bytes
    at: float | None = None


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
) -> PushPlan | None:
    """Validate, build, run client middleware and encode one push. ``None`` if dropped.

    Raises ``TypeError`` (naming ``args[i]...``) for arguments that are not JSON-native.
    """
    wire.check_args(args)
    when = due_time(now, delay, at)
    payload = wire.build(name, args, options, now=now, jid=jid, scheduled=when is not None)
    for layer in middleware:
        result = layer(name, payload, str(payload["queue"]))
        if result is None:
            return None
        payload = result
    return PushPlan(payload["jid"], str(payload["queue"]), wire.encode(payload), when)


def plan_bulk(
    name: str,
    args_list: Iterable[Sequence[Any]],
    options: Mapping[str, Any],
    middleware: Sequence[ClientMiddleware],
    *,
    now: float,
    at: float | None = None,
) -> list[PushPlan]:
    """Plan one push per argument list. Every list is validated before any is returned."""
    plans: list[PushPlan] = []
    for index, args in enumerate(args_list):
        if not isinstance(args, list | tuple):
            raise TypeError(
                f"perform_bulk item {index} is {type(args).__name__}, not a list of args"
            )
        try:
            plan = plan_push(name, args, options, middleware, now=now, at=at)
        except TypeError as exc:
            raise TypeError(f"perform_bulk item {index}: {exc}") from None
        if plan is not None:
            plans.append(plan)
    return plans


def group_by_target(plans: Sequence[PushPlan]) -> dict[tuple[str, bool], list[PushPlan]]:
    """Group plans by (queue, scheduled) so a bulk push writes one command per group."""
    groups: dict[tuple[str, bool], list[PushPlan]] = {}
    for plan in plans:
        groups.setdefault((plan.queue, plan.at is not None), []).append(plan)
    return groups
