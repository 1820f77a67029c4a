"""The Redis commands a push turns into, shared by the sync and asyncio clients.

Immediate jobs: ``SADD queues <q>`` and one ``LPUSH queue:<q> ...`` per queue (a bulk push sends all
of a queue's payloads in one LPUSH, as Sidekiq's ``push_bulk`` does). Scheduled jobs: one
``ZADD schedule`` with every score/member pair. All in one non-transactional pipeline: one round
trip however many jobs.

``SADD queues`` only makes a queue visible to the admin API and Web UIs (workers fetch the queues
they are configured with). A client remembers for :data:`REGISTRATION_TTL` seconds that it added
a queue, so a steady stream of pushes to one queue is a single ``LPUSH`` each (one command, like
a bare redis-py ``LPUSH``) instead of a pipeline of two. If the queue is cleared (which removes it
from ``queues``) the next registration after the TTL lists it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from henchman import keys
from henchman.client.plan import PushPlan, ScriptedWrite, group_by_target

log = logging.getLogger("henchman.client")

#: Queues a scripted write on a pipeline (the client knows how to run its scripts).
RunScript = Callable[[Any, ScriptedWrite], Any]


class PipelineLike(Protocol):
    """The subset of a redis-py (sync or asyncio) pipeline a push uses."""

    def sadd(self, name: str, *values: Any) -> Any: ...
    def lpush(self, name: str, *values: Any) -> Any: ...
    def zadd(self, name: str, mapping: Any) -> Any: ...


#: Seconds a client trusts that a queue it registered is still in the ``queues`` set.
REGISTRATION_TTL = 5.0


class KnownQueues:
    """Queues this client has added to ``queues`` recently (thread-safe, bounded by TTL)."""

    def __init__(self, ttl: float = REGISTRATION_TTL, clock: Callable[[], float] = time.monotonic):
        self._until: dict[str, float] = {}
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()

    def fresh(self, queue: str) -> bool:
        """Whether ``queue`` was registered less than a TTL ago."""
        return self._until.get(queue, 0.0) > self._clock()

    def registered(self, queue: str) -> None:
        """Note that ``SADD queues <queue>`` just succeeded."""
        with self._lock:
            self._until[queue] = self._clock() + self._ttl


def single_lpush(plans: Sequence[PushPlan], known: KnownQueues) -> PushPlan | None:
    """The one plan to write with a bare ``LPUSH``, if that is all this push needs."""
    if (
        len(plans) == 1
        and plans[0].at is None
        and plans[0].script is None
        and known.fresh(plans[0].queue)
    ):
        return plans[0]
    return None


def registered_queues(plans: Sequence[PushPlan]) -> set[str]:
    """Queues whose ``SADD`` a write of ``plans`` includes."""
    return {p.queue for p in plans if p.at is None and p.script is None}


def accepted(plan: PushPlan, reply: Any) -> bool:
    """Whether a scripted write stored ``plan``; logs the script's refusal if not."""
    if reply == 1:
        return True
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    assert plan.script is not None
    log.info("job %s not pushed: %s", plan.jid, plan.script.refusal.format(reply=text))
    return False


def queue_writes(
    pipe: PipelineLike,
    plans: Sequence[PushPlan],
    run_script: RunScript | None = None,
    layout: keys.KeyLayout = keys.SIDEKIQ,
) -> list[tuple[int, PushPlan]]:
    """Add the commands that store ``plans`` to ``pipe`` (in order within each queue).

    Returns the position in the pipeline's replies of each scripted write (for
    :func:`accepted`); plans with a script need ``run_script``. A write that mixes both (the
    reliable-push buffer delivering a backlog) keeps the exact order, one command per plan.

    In the cluster layout a scheduled push also registers its queue (``SADD`` of the shared
    queues set, before the ``ZADD``): the poller finds per-queue scheduled sets through it.
    """
    if any(p.script is not None for p in plans):
        if run_script is None:
            raise ValueError("scripted pushes need a client that runs scripts")
        return _ordered_writes(pipe, plans, run_script, layout)
    register_scheduled = layout.per_queue_sets
    if len(plans) == 1:
        plan = plans[0]
        if plan.at is None:
            pipe.sadd(layout.QUEUES, plan.queue)
            pipe.lpush(layout.queue(plan.queue), plan.raw)
        else:
            if register_scheduled:
                pipe.sadd(layout.QUEUES, plan.queue)
            pipe.zadd(layout.schedule(plan.queue), {plan.raw: plan.at})
        return []
    for (queue, scheduled), group in group_by_target(plans).items():
        if scheduled:
            if register_scheduled:
                pipe.sadd(layout.QUEUES, queue)
            pipe.zadd(layout.schedule(queue), {p.raw: p.at for p in group})
        else:
            pipe.sadd(layout.QUEUES, queue)
            pipe.lpush(layout.queue(queue), *(p.raw for p in group))
    return []


def _ordered_writes(
    pipe: PipelineLike, plans: Sequence[PushPlan], run_script: RunScript, layout: keys.KeyLayout
) -> list[tuple[int, PushPlan]]:
    position = 0
    scripted: list[tuple[int, PushPlan]] = []
    for plan in plans:
        if plan.script is not None:
            if layout.cluster:  # the script cannot reach the queues set (another slot)
                pipe.sadd(layout.QUEUES, plan.queue)
                position += 1
            run_script(pipe, plan.script)
            scripted.append((position, plan))
            position += 1
        elif plan.at is None:
            pipe.sadd(layout.QUEUES, plan.queue)
            pipe.lpush(layout.queue(plan.queue), plan.raw)
            position += 2
        else:
            if layout.per_queue_sets:
                pipe.sadd(layout.QUEUES, plan.queue)
                position += 1
            pipe.zadd(layout.schedule(plan.queue), {plan.raw: plan.at})
            position += 1
    return scripted


def deliver_keys(layout: keys.KeyLayout = keys.SIDEKIQ) -> list[str]:
    """KEYS for ``deliver.lua`` (Sidekiq layout)."""
    return [layout.QUEUES, layout.schedule(""), layout.WORKING_LISTS]


def deliver_args(plans: Sequence[PushPlan], layout: keys.KeyLayout = keys.SIDEKIQ) -> list[Any]:
    """ARGV for ``deliver.lua``: the queue key prefix, then (queue, score or '', raw) per plan."""
    args: list[Any] = [layout.queue("")]
    for plan in plans:
        args += [plan.queue, "" if plan.at is None else repr(float(plan.at)), plan.raw]
    return args
