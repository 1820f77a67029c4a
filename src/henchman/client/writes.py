"""The Redis commands a push turns into, shared by the sync and asyncio clients.

Immediate jobs: ``SADD queues <q>`` and one ``LPUSH queue:<q> ...`` per queue (a bulk push sends all
of a queue's payloads in one LPUSH, as Sidekiq's ``push_bulk`` does). Scheduled jobs: one
``ZADD schedule`` with every score/member pair. All in one non-transactional pipeline: one round
trip however many jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from henchman import keys
from henchman.client.plan import PushPlan, group_by_target


class PipelineLike(Protocol):
    """The subset of a redis-py (sync or asyncio) pipeline a push uses."""

    def sadd(self, name: str, *values: Any) -> Any: ...
    def lpush(self, name: str, *values: Any) -> Any: ...
    def zadd(self, name: str, mapping: Any) -> Any: ...


def queue_writes(pipe: PipelineLike, plans: Sequence[PushPlan]) -> None:
    """Add the commands that store ``plans`` to ``pipe`` (in order within each queue)."""
    if len(plans) == 1:
        plan = plans[0]
        if plan.at is None:
            pipe.sadd(keys.QUEUES, plan.queue)
            pipe.lpush(keys.queue(plan.queue), plan.raw)
        else:
            pipe.zadd(keys.SCHEDULE, {plan.raw: plan.at})
        return
    for (queue, scheduled), group in group_by_target(plans).items():
        if scheduled:
            pipe.zadd(keys.SCHEDULE, {p.raw: p.at for p in group})
        else:
            pipe.sadd(keys.QUEUES, queue)
            pipe.lpush(keys.queue(queue), *(p.raw for p in group))
