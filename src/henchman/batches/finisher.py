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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from henchman import keys
from henchman.batches import model
from henchman.context import JobContext

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.server.processor import Write

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
