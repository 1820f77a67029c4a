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
import redis

from henchman import keys
from henchman.batches import model, outbox
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
    """The pushes of one batch inside a block: staged so far, and still in memory.

    Staged queue lists are built with ``LPUSH`` in push order, so each already has its queue's
    layout (newest at the left): the commit renames it into an empty queue in O(1).
    """

    bid: str
    new: bool
    parent: str | None
    fields: dict[str, Any]
    #: In memory, not staged yet: payloads per queue, scheduled payloads, jids.
    immediate: dict[str, list[bytes]] = field(default_factory=dict)
    later: dict[bytes, float] = field(default_factory=dict)
    jids: list[str] = field(default_factory=list)
    queues: set[str] = field(default_factory=set)
    scheduled: bool = False
    count: int = 0
    #: Jids that join the batch without being pushed now (a workflow's later steps).
    registered: list[str] = field(default_factory=list)
    #: The key layout the stage writes in (the cluster layout tags a family's keys).
    layout: keys.KeyLayout = keys.SIDEKIQ

    def take(self, plans: Sequence[PushPlan]) -> bool:
        """Add ``plans`` (marked with this batch's bid); True when a slice is ready to stage."""
        tail = b',"bid":"' + self.bid.encode() + b'"}'  # what model.mark_bid appends
        jids, immediate = self.jids, self.immediate
        for plan in plans:
            raw = plan.raw[:-1] + tail
            jids.append(plan.jid)
            if plan.at is None:
                found = immediate.get(plan.queue)
                if found is None:
                    immediate[plan.queue] = [raw]
                else:
                    found.append(raw)
            else:
                self.later[raw] = plan.at
        self.count += len(plans)
        return len(jids) >= SLICE

    def put(self, plan: PushPlan) -> None:
        """Add one plan already marked with this batch's bid."""
        self.jids.append(plan.jid)
        if plan.at is None:
            self.immediate.setdefault(plan.queue, []).append(plan.raw)
        else:
            self.later[plan.raw] = plan.at
        self.count += 1

    def forget(self) -> None:
        """Drop what is still in memory."""
        self.immediate, self.later, self.jids, self.registered = {}, {}, [], []

    def queue_slice(self, pipe: Any) -> None:
        """Add the writes of everything still in memory to ``pipe`` and forget it."""
        jids = [*self.jids, *self.registered]
        immediate, later = self.immediate, self.later
        self.forget()
        for name, raws in immediate.items():
            stage = self.layout.batch_stage(self.bid, name)
            pipe.lpush(stage, *raws)
            pipe.expire(stage, STAGE_TTL)
            self.queues.add(name)
        if later:
            stage = self.layout.batch_stage_scheduled(self.bid)
            pipe.zadd(stage, later)
            pipe.expire(stage, STAGE_TTL)
            self.scheduled = True
        if jids:
            staged = self.layout.batch_stage_jids(self.bid)
            pipe.sadd(staged, *jids)
            pipe.expire(staged, STAGE_TTL)

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
        layout = self.layout
        names = [layout.batch_stage(self.bid, q) for q in self.queues]
        return [*names, layout.batch_stage_scheduled(self.bid), layout.batch_stage_jids(self.bid)]


def commit(client: Any, stages: Sequence[Stage], settings: Any) -> None:
    """Stage what is left and run the commit in one round trip (sync); on a refusal, delete the
    staging keys and raise :class:`BatchError` (nothing was pushed)."""
    if stages and stages[0].layout.cluster:
        _commit_cluster(client, stages, settings)
        return
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
    if stages and stages[0].layout.cluster:
        await _acommit_cluster(client, stages, settings)
        return
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


def _registry_writes(pipe: Any, stages: Sequence[Stage], now: float) -> None:
    layout = stages[0].layout
    for stage in stages:
        if stage.new:
            pipe.zadd(layout.BATCHES, {stage.bid: now})
    outbox.register(pipe, layout, [stage.bid for stage in stages], now)


def _commit_cluster(client: Any, stages: Sequence[Stage], settings: Any) -> None:
    """Cluster layout: the index and the registry of families first (shared slot), then the
    staging writes and the commit in the family's slot (payloads to the family's outbox), then
    the outbox's delivery to the queues (a crash during it is completed by the sweeper)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    _registry_writes(pipe, stages, now)
    pipe.execute()
    pipe = client.pipeline(transaction=False)
    for stage in stages:
        stage.queue_slice(pipe)
    pipe.execute()
    call = commit_call(stages, settings, now)
    try:
        Scripts(client)(*call)
    except redis.ResponseError as exc:  # an error reply becomes a BatchError
        error = commit_error(exc)
        assert error is not None
        rollback(client, stages)
        raise error from None
    outbox.deliver(client, stages[0].layout, stages[0].bid)


async def _acommit_cluster(client: Any, stages: Sequence[Stage], settings: Any) -> None:
    """Asyncio twin of :func:`_commit_cluster`."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    _registry_writes(pipe, stages, now)
    await pipe.execute()
    pipe = client.pipeline(transaction=False)
    for stage in stages:
        stage.queue_slice(pipe)
    await pipe.execute()
    call = commit_call(stages, settings, now)
    try:
        await AsyncScripts(client)(*call)
    except redis.ResponseError as exc:  # an error reply becomes a BatchError
        error = commit_error(exc)
        assert error is not None
        await arollback(client, stages)
        raise error from None
    await outbox.adeliver(client, stages[0].layout, stages[0].bid)


def _forget(stages: Sequence[Stage]) -> list[str]:
    for stage in stages:
        stage.forget()
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


def commit_call(
    stages: Sequence[Stage], settings: Any, now: float | None = None
) -> tuple[str, list[str], list[Any]]:
    """The ``batch_commit.lua`` call for a block's stages (parents first)."""
    specs = orjson.dumps([stage.spec() for stage in stages]).decode()
    layout = stages[0].layout if stages else keys.SIDEKIQ
    args: list[Any] = [
        specs,
        repr(time.time() if now is None else now),
        keys.BATCH_PREFIX,
        keys.QUEUE_PREFIX,
        model.PENDING_TTL,
        model.SUCCESS_TTL,
        int(settings.dead_timeout),
        _STAGE_SUFFIX,
        _STAGE_AT_SUFFIX,
        _STAGE_JIDS_SUFFIX,
    ]
    box = layout.batch_outbox(stages[0].bid) if stages else None
    if box is None:
        return ("batch_commit", [keys.QUEUES, keys.SCHEDULE, keys.BATCHES], args)
    return ("batch_commit", [box, box, box], [*args, layout.batch_tag(stages[0].bid)])


def commit_error(reply: Any) -> BatchError | None:
    """The :class:`BatchError` for an error reply of the commit script, else ``None``."""
    if not isinstance(reply, Exception):
        return None
    text = str(reply)
    marker = "henchman: "
    if marker in text:
        return BatchError(text[text.index(marker) + len(marker) :])
    raise reply
