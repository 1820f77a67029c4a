"""Staging a ``jobs()`` block: pushes are collected, written to per-batch staging keys in
pipelined slices, and made visible by one ``batch_commit.lua`` call when the outermost block
ends (or deleted if it raises).

Crash safety: until the commit, nothing is in a queue or in the batch; staging keys expire after
:data:`STAGE_TTL`, so a pusher that dies mid-block leaves nothing a worker or a status reads. The
commit is one script, so a crash during it leaves either everything or nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from henchman import keys
from henchman.batches import model
from henchman.client.plan import PushPlan
from henchman.errors import BatchError
from henchman.redis.scripts import AsyncScripts, Scripts

#: Pushes are written to the staging keys this many at a time (one pipelined round trip each).
SLICE = 1000
#: Staging keys of a block whose pusher died expire after this many seconds.
STAGE_TTL = 24 * 3600
# The script builds staging keys as <prefix><bid><suffix>; the suffixes come from keys.py.
_STAGE_SUFFIX = keys.batch_stage("", "")[len(keys.BATCH_PREFIX) :]
_STAGE_AT_SUFFIX = keys.batch_stage_scheduled("")[len(keys.BATCH_PREFIX) :]
_STAGE_JIDS_SUFFIX = keys.batch_stage_jids("")[len(keys.BATCH_PREFIX) :]


@dataclass(eq=False)
class Stage:
    """The pushes of one batch inside a block: staged so far, and still in memory."""

    bid: str
    new: bool
    parent: str | None
    fields: dict[str, Any]
    pending: list[PushPlan] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)
    scheduled: bool = False
    count: int = 0
    #: Jids that join the batch without being pushed now (a workflow's later steps).
    registered: list[str] = field(default_factory=list)

    def take(self, plans: Sequence[PushPlan]) -> bool:
        """Add ``plans`` (marked with this batch's bid); True when a slice is ready to stage."""
        bid = self.bid
        for plan in plans:
            self.pending.append(plan._replace(raw=model.mark_bid(plan.raw, bid)))
        self.count += len(plans)
        return len(self.pending) >= SLICE

    def put(self, plan: PushPlan) -> None:
        """Add one plan already marked with this batch's bid."""
        self.pending.append(plan)
        self.count += 1

    def queue_slice(self, pipe: Any) -> None:
        """Add the writes of everything still in memory to ``pipe`` and forget it."""
        plans, self.pending = self.pending, []
        registered, self.registered = self.registered, []
        jids = keys.batch_stage_jids(self.bid)
        if registered:
            pipe.sadd(jids, *registered)
            pipe.expire(jids, STAGE_TTL)
        if not plans:
            return
        by_queue: dict[str, list[bytes]] = {}
        scheduled: dict[bytes, float] = {}
        for plan in plans:
            if plan.at is None:
                by_queue.setdefault(plan.queue, []).append(plan.raw)
            else:
                scheduled[plan.raw] = plan.at
        for name, raws in by_queue.items():
            stage = keys.batch_stage(self.bid, name)
            pipe.rpush(stage, *raws)
            pipe.expire(stage, STAGE_TTL)
            self.queues.add(name)
        if scheduled:
            stage = keys.batch_stage_scheduled(self.bid)
            pipe.zadd(stage, scheduled)
            pipe.expire(stage, STAGE_TTL)
            self.scheduled = True
        pipe.sadd(jids, *(plan.jid for plan in plans))
        pipe.expire(jids, STAGE_TTL)

    def spec(self) -> dict[str, Any]:
        """This batch's entry in ``batch_commit.lua``'s ARGV[1]."""
        return {
            "bid": self.bid,
            "parent": self.parent or "",
            "new": self.new,
            "fields": self.fields,
            "queues": sorted(self.queues),
            "scheduled": self.scheduled,
        }

    def staging_keys(self) -> list[str]:
        """Every key this stage may have written (for a rollback)."""
        names = [keys.batch_stage(self.bid, q) for q in self.queues]
        return [*names, keys.batch_stage_scheduled(self.bid), keys.batch_stage_jids(self.bid)]


def commit(client: Any, stages: Sequence[Stage], settings: Any) -> None:
    """Stage what is left and run the commit in one round trip (sync); on a refusal, delete the
    staging keys and raise :class:`BatchError` (nothing was pushed)."""
    scripts = Scripts(client)
    pipe = client.pipeline(transaction=False)
    for stage in stages:
        stage.queue_slice(pipe)
    call = commit_call(stages, settings)
    scripts.queue(pipe, *call)
    replies = scripts.execute(pipe, [None] * (len(pipe.command_stack) - 1) + [call])
    error = commit_error(replies[-1])
    if error is not None:
        rollback(client, stages)
        raise error


async def acommit(client: Any, stages: Sequence[Stage], settings: Any) -> None:
    """Asyncio twin of :func:`commit`."""
    scripts = AsyncScripts(client)
    pipe = client.pipeline(transaction=False)
    for stage in stages:
        stage.queue_slice(pipe)
    call = commit_call(stages, settings)
    scripts.queue(pipe, *call)
    replies = await scripts.execute(pipe, [None] * (len(pipe.command_stack) - 1) + [call])
    error = commit_error(replies[-1])
    if error is not None:
        await arollback(client, stages)
        raise error


def _forget(stages: Sequence[Stage]) -> list[str]:
    for stage in stages:
        stage.pending.clear()
        stage.registered.clear()
    return [key for stage in stages for key in stage.staging_keys()]


def rollback(client: Any, stages: Sequence[Stage]) -> None:
    """Delete whatever ``stages`` staged (a block raised, or the commit was refused)."""
    names = _forget(stages)
    if names:
        client.delete(*names)


async def arollback(client: Any, stages: Sequence[Stage]) -> None:
    """Asyncio twin of :func:`rollback`."""
    names = _forget(stages)
    if names:
        await client.delete(*names)


def commit_call(stages: Sequence[Stage], settings: Any) -> tuple[str, list[str], list[Any]]:
    """The ``batch_commit.lua`` call for a block's stages (parents first)."""
    specs = orjson.dumps([stage.spec() for stage in stages]).decode()
    return (
        "batch_commit",
        [keys.QUEUES, keys.SCHEDULE, keys.BATCHES],
        [
            specs,
            repr(time.time()),
            keys.BATCH_PREFIX,
            keys.QUEUE_PREFIX,
            model.PENDING_TTL,
            model.SUCCESS_TTL,
            int(settings.dead_timeout),
            _STAGE_SUFFIX,
            _STAGE_AT_SUFFIX,
            _STAGE_JIDS_SUFFIX,
        ],
    )


def commit_error(reply: Any) -> BatchError | None:
    """The :class:`BatchError` for an error reply of the commit script, else ``None``."""
    if not isinstance(reply, Exception):
        return None
    text = str(reply)
    marker = "henchman: "
    if marker in text:
        return BatchError(text[text.index(marker) + len(marker) :])
    raise reply
