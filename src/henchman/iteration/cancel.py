"""Cancelling an iterable job: ``henchman.cancel(jid)``.

A cancellation is a flag, not a removal: it writes ``cancelled`` (epoch seconds) into the job's
``it-<jid>`` hash, exactly as Sidekiq's ``cancel!`` does, so either side can cancel the other's
jobs. The job sees it at the start of its next run, or at its next state write while it runs
(at most :data:`~henchman.iteration.state.FLUSH_INTERVAL` seconds later); it then calls
``on_cancel`` and ``on_stop``, deletes its state and ends successfully. A job that is waiting in
a queue, the schedule or the retry set stays there until it runs and cancels itself.

Cancelling twice keeps the first time. Cancelling a jid that is not an iterable job leaves a
small hash that expires with the state TTL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis

from henchman import keys
from henchman.app_default import default_app
from henchman.iteration.state import STATE_TTL

if TYPE_CHECKING:
    from henchman.app import Henchman


def queue_cancel(pipe: Any, jid: str, now: float, layout: keys.KeyLayout = keys.SIDEKIQ) -> None:
    """Queue the cancel commands: set ``cancelled`` unless set, read it back, refresh the TTL."""
    key = layout.iteration_state(jid)
    pipe.hsetnx(key, "cancelled", int(now))
    pipe.hget(key, "cancelled")
    pipe.expire(key, STATE_TTL)


def _cancelled_at(replies: Sequence[Any]) -> int:
    return int(float(replies[1]))


def request_cancel(client: redis.Redis, jid: str, *, now: float | None = None) -> int:
    """Flag job ``jid`` as cancelled; return the epoch seconds of the (first) cancellation."""
    pipe = client.pipeline(transaction=True)
    queue_cancel(pipe, jid, time.time() if now is None else now, keys.layout_of(client))
    return _cancelled_at(pipe.execute())


async def arequest_cancel(client: aredis.Redis, jid: str, *, now: float | None = None) -> int:
    """Asyncio twin of :func:`request_cancel`."""
    pipe = client.pipeline(transaction=True)
    queue_cancel(pipe, jid, time.time() if now is None else now, keys.layout_of(client))
    return _cancelled_at(await pipe.execute())


def cancel(jid: str, *, app: Henchman | None = None) -> int:
    """Cancel iterable job ``jid`` through ``app`` (default: the default app).

    Returns the epoch seconds at which the job was first cancelled. The job stops at its next
    run start or state write (within about 5 s while it runs).
    """
    if app is None:
        app = default_app()
    return request_cancel(app.client.redis, jid)
