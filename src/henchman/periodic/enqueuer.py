"""Enqueue (or record as skipped) one tick of one schedule: build the payload in Python, then
one ``periodic_tick.lua`` call checks leadership and the schedule's mark, advances the mark,
pushes the job and appends to the schedule's history, atomically.

A tick's job id is derived from the schedule id and the tick time, so the same tick always makes
the same jid; the payload carries ``"periodic": {"id", "tick", "catch_up"}`` for the job to read
(``henchman.current_job().payload["periodic"]``), e.g. as an idempotency key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from henchman import keys, payload as wire
from henchman.client.plan import ClientMiddleware, plan_push
from henchman.errors import ConfigError
from henchman.periodic_schedule import Schedule
from henchman.redis.scripts import source

__all__ = ["HISTORY_LENGTH", "TickEnqueuer", "enqueue_now", "tick_jid"]

#: Runs kept in each schedule's history.
HISTORY_LENGTH = 50


def tick_jid(schedule_id: str, tick: float) -> str:
    """The job id of ``schedule_id``'s run for ``tick``: the same tick always has the same jid."""
    return hashlib.sha256(f"{schedule_id}|{tick!r}".encode()).hexdigest()[:24]


def _entry(tick: float, jid: str | None, now: float, kind: str, count: int = 1) -> bytes:
    return orjson.dumps({"tick": tick, "jid": jid, "at": now, "kind": kind, "count": count})


def _keys(schedule: Schedule, queue: str, layout: keys.KeyLayout) -> list[str]:
    if layout.cluster and queue != schedule.queue:
        raise ValueError(
            f"periodic job {schedule.id!r}: a client middleware moved it to queue {queue!r}; "
            "that is not available in cluster mode (its marks live in its own queue's slot)"
        )
    return layout.periodic_tick_keys(schedule.id, queue)


class TickEnqueuer:
    """Handles ticks for the leader ``identity`` with the app's client middleware."""

    def __init__(
        self,
        client: redis.Redis,
        identity: str,
        middleware: Sequence[ClientMiddleware],
        *,
        history_length: int = HISTORY_LENGTH,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self.client = client
        self.layout = layout
        self.identity = identity
        self.middleware = middleware
        self.history_length = history_length
        self._script = client.register_script(source("periodic_tick"))

    def marks(self, schedules: Sequence[Schedule]) -> list[float | None]:
        """Each schedule's mark (newest handled tick), None for a schedule never handled."""
        if not schedules:
            return []
        if self.layout.cluster:  # one marks hash per queue
            found = [self.client.hget(self.layout.periodic_marks(s.queue), s.id) for s in schedules]
        else:
            found = self.client.hmget(keys.PERIODIC_MARKS, [s.id for s in schedules])
        return [float(v) if v is not None else None for v in found]

    def init(self, schedule: Schedule, at: float) -> None:
        """Start a new schedule's mark at ``at`` (no catch-up for ticks before it existed)."""
        self._call(schedule, at, b"", schedule.queue, b"{}", "init")

    def enqueue(self, schedule: Schedule, tick: float, now: float, catch_up: int = 0) -> str:
        """Enqueue ``tick`` (a catch-up run for ``catch_up`` missed ticks if > 0); returns the
        script's answer (``enqueued``, ``paused``, ``duplicate``, ``not-leader``, ...)."""
        jid = tick_jid(schedule.id, tick)
        marker = {"id": schedule.id, "tick": tick, "catch_up": bool(catch_up)}
        options = {**schedule.options, "periodic": marker}
        plan = plan_push(schedule.job, schedule.args, options, self.middleware, now=now, jid=jid)
        if plan is None:  # a client middleware dropped it (e.g. a unique lock): record that
            return self.skip(schedule, tick, now, 1, kind="dropped")
        kind = "catch_up" if catch_up else "tick"
        entry = _entry(tick, plan.jid, now, kind, max(1, catch_up))
        return self._call(schedule, tick, plan.raw, plan.queue, entry, "tick")

    def skip(
        self, schedule: Schedule, tick: float, now: float, count: int, kind: str = "skipped"
    ) -> str:
        """Record ``count`` ticks up to ``tick`` as not run (the mark moves to ``tick``)."""
        return self._call(
            schedule, tick, b"", schedule.queue, _entry(tick, None, now, kind, count), "skip"
        )

    def _call(
        self, schedule: Schedule, tick: float, raw: bytes, queue: str, entry: bytes, mode: str
    ) -> str:
        args: list[Any] = [self.identity, schedule.id, repr(tick), raw, queue, entry,
                           self.history_length, mode]  # fmt: skip
        if self.layout.cluster and mode != "init":  # the queues set is in another slot
            self.client.sadd(self.layout.QUEUES, queue)
        result = self._script(keys=_keys(schedule, queue, self.layout), args=args)
        return result.decode() if isinstance(result, bytes) else str(result)


def enqueue_now(client: redis.Redis, schedule: Schedule, now: float | None = None) -> str:
    """Push one run of ``schedule`` now, outside its timetable (an operator's "enqueue now"):
    recorded in its history as ``manual``; the mark is untouched. Returns the jid.

    Runs without the app's client middleware, so a schedule whose job encrypts its arguments
    is refused (only a worker holds the keys)."""
    if schedule.options.get("encrypt") is True:
        raise ConfigError(
            f"periodic job {schedule.id!r} encrypts its arguments: it can only be enqueued by a "
            "worker holding the keys"
        )
    at = time.time() if now is None else now
    options = {**schedule.options, "periodic": {"id": schedule.id, "tick": at, "manual": True}}
    payload = wire.build(schedule.job, list(schedule.args), options, now=at)
    script = client.register_script(source("periodic_tick"))
    queue = str(payload["queue"])
    entry = _entry(at, str(payload["jid"]), at, "manual")
    layout = keys.layout_of(client)
    if layout.cluster:  # the queues set is in another slot
        client.sadd(layout.QUEUES, queue)
    script(
        keys=_keys(schedule, queue, layout),
        args=["", schedule.id, repr(at), wire.encode(payload), queue, entry, HISTORY_LENGTH,
              "manual"],
    )  # fmt: skip
    return str(payload["jid"])
