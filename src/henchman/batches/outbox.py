"""Cluster layout: a batch family's outbox, delivered to the queues after the step that filled it.

In the cluster layout a batch's keys and its jobs' queues are in different hash slots, so the
step that decides which jobs become visible (a ``jobs()`` block's commit, or a callback firing
in ``batch_count.lua``) writes them to the family's *outbox* in the family's slot, and delivery
pushes them afterwards, each to its own queue's slot:

1. a deliverer takes up to :data:`CHUNK` entries, oldest first, moving each atomically from the
   outbox to the family's in-flight list (``LMOVE``, one slot);
2. it pushes each payload to its queue (or its queue's scheduled set) and adds the queue to the
   queues set;
3. it removes the entries from the in-flight list.

A crash after 1 leaves entries in flight; a crash before 1 leaves them in the outbox. The
:class:`OutboxSweeper` (run by the scheduled poller's loop) delivers what an outbox still holds
and puts entries back from in-flight lists it saw unchanged one sweep earlier, so nothing is
lost; a crash between 2 and 3 (or a deliverer slower than a sweep interval) can push an entry
twice: delivery is at least once.

Families are found through the registry ``{henchman}:batch-families`` (ZSET root bid -> time of
its latest commit), written before each commit; a family leaves it once its root batch has
succeeded (nothing can fire after that) or no commit happened in it for longer than a batch
lives, with an empty outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from henchman import keys
from henchman.batches import model
from henchman.redis.scripts import Scripts

#: Entries taken per delivery round trip.
CHUNK = 200
#: A family registered this recently is never dropped from the registry (a commit in progress).
GRACE = 3600.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _push(pipe: Any, layout: keys.KeyLayout, entry: Any) -> None:
    """Queue the push of one outbox entry on ``pipe``."""
    item = orjson.loads(entry)
    queue, raw = str(item[0]), str(item[1])
    if len(item) > 2:  # a scheduled payload: its queue is in the payload
        queue = str(orjson.loads(raw).get("queue") or "default")
        pipe.zadd(layout.schedule(queue), {raw: float(item[2])})
    else:
        pipe.lpush(layout.queue(queue), raw)
    pipe.sadd(layout.QUEUES, queue)


def deliver(client: Any, layout: keys.KeyLayout, bid: str) -> int:
    """Deliver the outbox of ``bid``'s family until it is empty; return how many were pushed."""
    outbox, inflight = layout.batch_outbox(bid), layout.batch_inflight(bid)
    if outbox is None or inflight is None:
        return 0
    pushed = 0
    while True:
        pipe = client.pipeline(transaction=False)
        for _ in range(CHUNK):
            pipe.lmove(outbox, inflight, "RIGHT", "LEFT")
        taken = [entry for entry in pipe.execute() if entry is not None]
        if not taken:
            return pushed
        pipe = client.pipeline(transaction=False)
        for entry in taken:
            _push(pipe, layout, entry)
        pipe.execute()
        pipe = client.pipeline(transaction=False)
        for entry in taken:
            pipe.lrem(inflight, 1, entry)
        pipe.execute()
        pushed += len(taken)
        if len(taken) < CHUNK:
            return pushed


async def adeliver(client: Any, layout: keys.KeyLayout, bid: str) -> int:
    """Asyncio twin of :func:`deliver`."""
    outbox, inflight = layout.batch_outbox(bid), layout.batch_inflight(bid)
    if outbox is None or inflight is None:
        return 0
    pushed = 0
    while True:
        pipe = client.pipeline(transaction=False)
        for _ in range(CHUNK):
            pipe.lmove(outbox, inflight, "RIGHT", "LEFT")
        taken = [entry for entry in await pipe.execute() if entry is not None]
        if not taken:
            return pushed
        pipe = client.pipeline(transaction=False)
        for entry in taken:
            _push(pipe, layout, entry)
        await pipe.execute()
        pipe = client.pipeline(transaction=False)
        for entry in taken:
            pipe.lrem(inflight, 1, entry)
        await pipe.execute()
        pushed += len(taken)
        if len(taken) < CHUNK:
            return pushed


def register(pipe: Any, layout: keys.KeyLayout, bids: Iterable[str], now: float) -> None:
    """Queue the registry writes that must precede a commit: the index of the new batches and
    their family in the registry of families."""
    if layout.BATCH_FAMILIES is None:
        return
    roots = {keys.batch_root(bid) for bid in bids}
    for root in roots:
        pipe.zadd(layout.BATCH_FAMILIES, {root: now})


def stale(registered_at: float, now: float) -> bool:
    """Whether a family registered at ``registered_at`` may leave the registry (pure)."""
    return registered_at < now - GRACE


class OutboxSweeper:
    """Delivers the outboxes a crashed deliverer left behind (cluster layout only). Keeps the
    in-flight entries it saw on its last sweep, to put back those still there on the next."""

    def __init__(
        self,
        client: Any,
        layout: keys.KeyLayout,
        clock: Callable[[], float] = time.time,
        scripts: Scripts | None = None,
    ) -> None:
        self._redis = client
        self._layout = layout
        self._clock = clock
        self._scripts = scripts if scripts is not None else Scripts(client)
        self._seen: dict[str, set[bytes]] = {}

    def sweep(self) -> int:
        """One pass over the registry; return how many entries were delivered."""
        layout = self._layout
        if layout.BATCH_FAMILIES is None:
            return 0
        now = self._clock()
        families = [
            (_text(member), float(score))
            for member, score in self._redis.zrange(layout.BATCH_FAMILIES, 0, -1, withscores=True)
        ]
        seen: dict[str, set[bytes]] = {}
        delivered = 0
        for start in range(0, len(families), CHUNK):
            chunk = families[start : start + CHUNK]
            pipe = self._redis.pipeline(transaction=False)
            for root, _ in chunk:
                pipe.llen(layout.batch_outbox(root))
                pipe.lrange(layout.batch_inflight(root), 0, -1)
            replies = pipe.execute()
            for index, (root, registered_at) in enumerate(chunk):
                waiting, flying = int(replies[2 * index]), set(replies[2 * index + 1])
                stuck = flying & self._seen.get(root, set())
                if stuck:
                    pair = [str(layout.batch_inflight(root)), str(layout.batch_outbox(root))]
                    waiting += int(self._scripts("batch_rescue", pair, sorted(stuck)))
                if flying - stuck:
                    seen[root] = flying - stuck
                if waiting:
                    delivered += deliver(self._redis, layout, root)
                elif not flying and stale(registered_at, now):
                    self._forget(root, registered_at, now)
        self._seen = seen
        return delivered

    def _forget(self, root: str, registered_at: float, now: float) -> None:
        """Drop a finished or expired family from the registry (its outbox is empty)."""
        layout = self._layout
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(layout.batch(root), "created_at", "success_at")
        pipe.llen(layout.batch_outbox(root))
        pipe.llen(layout.batch_inflight(root))
        (created, succeeded), waiting, flying = pipe.execute()
        if waiting or flying:
            return
        # A root gone for longer than a batch lives: every child of the family is gone too.
        expired = created is None and registered_at < now - model.PENDING_TTL
        if succeeded is not None or expired:
            self._redis.zrem(layout.BATCH_FAMILIES, root)
