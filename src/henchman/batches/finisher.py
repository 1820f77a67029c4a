"""The server side of batches: a finisher (see :class:`henchman.server.processor.Finisher`) that
turns the final write of a batch job into ``batch_ack.lua`` — the acknowledgement, the retry or
dead record, the batch's counts and any callback it fires, in one atomic step.

Outcomes and what they count:

* ``success``: the job leaves the batch's pending set; the write rides with the next fetch like
  a plain ack. A job that a server middleware skips (returns without calling ``call_next``, as
  an expiry check that drops a job does) has finished: it counts as a success, as in Sidekiq.
* ``retry``, ``discard``: a failure (the job has run; the batch can complete, not succeed).
* ``dead``: a failure and a death (fires ``death`` on the batch and its ancestors, once).
* ``requeue`` (an interrupted iterable job, or any job put back without finishing by raising
  ``RequeueJob``): not counted; the job stays pending. A rate limiter that reschedules a job
  must end it this way (or with any outcome other than ``success``), never by acknowledging it.

Jobs recovered from a dead process were never acknowledged, so they were never counted: they
stay pending until they run again.

In the cluster layout the batch's keys (its family's slot) and the job's working list (its
queue's slot) cannot be one script: the write becomes three steps (:class:`ClusterSteps`):
``batch_count.lua`` in the family's slot (idempotent per jid; fired callbacks go to the family's
outbox), then the acknowledgement itself and the outbox's delivery (a success's plain ack rides
the next fetch, so its delivery comes first). A crash after the count runs the job again
(counted once); a crash before the delivery leaves it to the sweeper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import redis

from henchman import keys
from henchman.batches import model, outbox
from henchman.context import JobContext
from henchman.redis.scripts import AsyncScripts, Scripts

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.server.processor import Write

log = logging.getLogger("henchman")

_COUNTED = {"success": "success", "retry": "failure", "discard": "failure", "dead": "dead"}


class BatchFinisher:
    """Counts every job that carries a ``bid`` in its batch, atomically with its acknowledgement."""

    name = "batch"

    def __init__(self, app: Henchman, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock

    def finish(self, context: JobContext, outcome: str, write: Write) -> Write:
        bid = context.payload.get("bid")
        counted = _COUNTED.get(outcome)
        if counted is None or not isinstance(bid, str) or not bid or write.script != "ack":
            return write
        if self.app.keys.cluster:
            steps = ClusterSteps(self.app.keys, self._count_args(counted, context.jid, bid))
            # A success's (or discard's) plain ack still rides the next fetch: the count and
            # delivery run first, as the capsule sends a wrapped ack_only write.
            return replace(write, deferrable=False, wrap=steps)
        args = list(write.args) + [""] * (5 - len(write.args))
        return replace(  # replace(): no server import for apps that only push
            write,
            keys=[write.keys[0], write.keys[1], keys.QUEUES],
            args=[
                *args,
                counted,
                context.jid,
                bid,
                repr(self.clock()),
                keys.BATCH_PREFIX,
                keys.QUEUE_PREFIX,
                model.SUCCESS_TTL,
                int(self.app.settings.dead_timeout),
            ],
            script="batch_ack",
            ack_only=False,
            deferrable=counted == "success",
        )

    def _count_args(self, counted: str, jid: str, bid: str) -> list[Any]:
        return [
            counted,
            jid,
            bid,
            repr(self.clock()),
            keys.BATCH_PREFIX,
            model.SUCCESS_TTL,
            int(self.app.settings.dead_timeout),
            self.app.keys.batch_tag(bid),
        ]


@dataclass(frozen=True, slots=True)
class ClusterSteps:
    """A batch job's end in the cluster layout: count it, acknowledge it, deliver callbacks."""

    layout: keys.KeyLayout
    args: list[Any]

    @property
    def bid(self) -> str:
        return str(self.args[2])

    def _outbox(self) -> str:
        box = self.layout.batch_outbox(self.bid)
        assert box is not None
        return box

    def send(self, client: Any, send_write: Callable[[], Any]) -> Any:
        waiting = Scripts(client)("batch_count", [self._outbox()], self.args)
        reply = send_write()
        if int(waiting):
            try:
                outbox.deliver(client, self.layout, self.bid)
            except redis.RedisError as exc:  # the sweeper delivers what is left
                log.warning("delivering batch %s's callbacks failed: %s", self.bid, exc)
        return reply

    async def asend(self, client: Any, send_write: Callable[[], Awaitable[Any]]) -> Any:
        waiting = await AsyncScripts(client)("batch_count", [self._outbox()], self.args)
        reply = await send_write()
        if int(waiting):
            try:
                await outbox.adeliver(client, self.layout, self.bid)
            except redis.RedisError as exc:
                log.warning("delivering batch %s's callbacks failed: %s", self.bid, exc)
        return reply
