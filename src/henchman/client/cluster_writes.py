"""Cluster layout: the exactly-once redelivery of buffered pushes, one slot at a time.

``deliver.lua`` checks every working list in one script, which the cluster layout cannot do (the
working lists of different queues live in different slots). Here the shared working-list registry
is read first, then one ``deliver_queue.lua`` call per queue gets that queue's list, its scheduled
set and its working lists — all in the queue's slot — so the "already there?" check and the store
stay one atomic step per queue. The queue is registered in the shared queues set before its
jobs are stored, so the poller and the admin API can never miss a stored job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from henchman import keys
from henchman.client.plan import PushPlan


def plans_by_queue(plans: Sequence[PushPlan]) -> dict[str, list[PushPlan]]:
    """Plans grouped by queue, in order within each queue."""
    out: dict[str, list[PushPlan]] = {}
    for plan in plans:
        out.setdefault(plan.queue, []).append(plan)
    return out


def working_lists_by_queue(registry: dict[Any, Any]) -> dict[str, list[str]]:
    """The shared working-list registry (key -> JSON [owner, queue]) as queue -> keys."""
    out: dict[str, list[str]] = {}
    for key, value in registry.items():
        try:
            _owner, queue = orjson.loads(value)
        except (ValueError, TypeError):
            continue
        name = key.decode() if isinstance(key, bytes) else str(key)
        out.setdefault(str(queue), []).append(name)
    return out


def deliver_call(
    layout: keys.KeyLayout, queue: str, plans: Sequence[PushPlan], working: Sequence[str]
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``deliver_queue.lua`` for one queue's plans."""
    args: list[Any] = []
    for plan in plans:
        args += ["" if plan.at is None else repr(float(plan.at)), plan.raw]
    return [layout.queue(queue), layout.schedule(queue), *working], args


def deliver_once(redis_client: Any, layout: keys.KeyLayout, plans: Sequence[PushPlan]) -> int:
    """Store each plan unless a copy is already in its queue, working lists or schedule."""
    from henchman.redis.scripts import source

    script = redis_client.register_script(source("deliver_queue"))
    working = working_lists_by_queue(redis_client.hgetall(layout.WORKING_LISTS))
    stored = 0
    for queue, group in plans_by_queue(plans).items():
        redis_client.sadd(layout.QUEUES, queue)
        keys_, args = deliver_call(layout, queue, group, working.get(queue, []))
        stored += int(script(keys=keys_, args=args))
    return stored
