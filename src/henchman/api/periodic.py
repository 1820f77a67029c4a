"""Periodic schedules as the leader published them, with their history.

The leader writes every schedule's definition to ``henchman:periodic:schedules`` when its term
begins, so the CLI and the Web UI list schedules without importing the app. Next runs are
computed here with :func:`henchman.cron.next_run`, in each schedule's zone.

Pausing is a flag the leader's tick step reads atomically: a paused schedule's ticks are passed
over (not caught up on unpause). "Enqueue now" pushes one run outside the timetable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from henchman import cron, keys
from henchman.periodic.enqueuer import HISTORY_LENGTH, enqueue_now
from henchman.periodic_schedule import Schedule

__all__ = ["PeriodicRecord", "PeriodicRun", "PeriodicSet"]


@dataclass(frozen=True, slots=True)
class PeriodicRun:
    """One history entry: a tick enqueued (``tick``, ``catch_up``, ``manual``) or passed over
    (``skipped`` for ``count`` missed ticks, ``dropped`` by a client middleware)."""

    tick: float
    jid: str | None
    at: float
    kind: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"tick": self.tick, "jid": self.jid, "at": self.at, "kind": self.kind,
                "count": self.count}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PeriodicRecord:
    """One schedule with its state."""

    schedule: Schedule
    paused: bool
    #: Newest tick handled (epoch), None before the first.
    mark: float | None
    history: list[PeriodicRun]
    next_run: datetime | None

    @property
    def id(self) -> str:
        return self.schedule.id

    @property
    def last_run(self) -> PeriodicRun | None:
        """The newest history entry that enqueued a job."""
        return next((r for r in self.history if r.jid), None)

    def to_dict(self) -> dict[str, Any]:
        s = self.schedule
        return {
            "id": s.id, "cron": s.cron, "tz": s.tz, "job": s.job, "args": list(s.args),
            "queue": s.queue, "missed": s.missed, "paused": self.paused, "mark": self.mark,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "history": [r.to_dict() for r in self.history],
        }  # fmt: skip


class PeriodicSet:
    """The published schedules. Every call reads Redis."""

    def __init__(
        self,
        client: redis.Redis,
        clock: Callable[[], float] = time.time,
        *,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        self._redis = client
        self._clock = clock
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)

    def all(self, history: int = 10) -> list[PeriodicRecord]:
        """Every schedule sorted by id, with up to ``history`` newest runs each."""
        raw = self._redis.hgetall(self.layout.PERIODIC_SCHEDULES)
        loaded = [s for s in (_load(v) for v in raw.values()) if s is not None]
        return self._records(sorted(loaded, key=lambda s: s.id), history)

    def find(self, schedule_id: str, history: int = HISTORY_LENGTH) -> PeriodicRecord | None:
        """One schedule by id, or None."""
        raw = self._redis.hget(self.layout.PERIODIC_SCHEDULES, schedule_id)
        schedule = _load(raw) if raw is not None else None
        return self._records([schedule], history)[0] if schedule is not None else None

    def pause(self, schedule_id: str) -> bool:
        """Pause a schedule (its ticks are passed over); False if no such schedule."""
        key = self._paused_key(schedule_id)
        if key is None:
            return False
        self._redis.sadd(key, schedule_id)
        return True

    def unpause(self, schedule_id: str) -> bool:
        """Resume a paused schedule from its next tick; False if no such schedule."""
        key = self._paused_key(schedule_id)
        if key is None:
            return False
        self._redis.srem(key, schedule_id)
        return True

    def _paused_key(self, schedule_id: str) -> str | None:
        """The paused set holding ``schedule_id``'s flag; None if no such schedule."""
        if not self.layout.cluster:
            if not self._redis.hexists(keys.PERIODIC_SCHEDULES, schedule_id):
                return None
            return keys.PERIODIC_PAUSED
        raw = self._redis.hget(self.layout.PERIODIC_SCHEDULES, schedule_id)
        schedule = _load(raw) if raw is not None else None
        return self.layout.periodic_paused(schedule.queue) if schedule is not None else None

    def enqueue_now(self, schedule_id: str) -> str | None:
        """Push one run of the schedule now (history kind ``manual``); its jid, or None if
        there is no such schedule. Raises ConfigError for a schedule that encrypts."""
        record = self.find(schedule_id, history=0)
        if record is None:
            return None
        return enqueue_now(self._redis, record.schedule, self._clock())

    def _records(self, schedules: list[Schedule], history: int) -> list[PeriodicRecord]:
        pipe = self._redis.pipeline(transaction=False)
        for s in schedules:
            layout, queue = self.layout, s.queue
            pipe.sismember(layout.periodic_paused(queue), s.id)
            pipe.hget(layout.periodic_marks(queue), s.id)
            if history:
                pipe.lrange(layout.periodic_history(s.id, queue), 0, history - 1)
            else:
                pipe.echo("")
        replies = pipe.execute()
        now = datetime.fromtimestamp(self._clock(), UTC)
        out = []
        for index, s in enumerate(schedules):
            paused, mark, runs = replies[3 * index : 3 * index + 3]
            out.append(PeriodicRecord(
                schedule=s, paused=bool(paused), mark=float(mark) if mark is not None else None,
                history=[r for r in (_run(x) for x in (runs if history else [])) if r],
                next_run=_next(s, now),
            ))  # fmt: skip
        return out


def _load(raw: bytes | str) -> Schedule | None:
    try:
        return Schedule.from_json(raw)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _run(raw: bytes) -> PeriodicRun | None:
    try:
        data = orjson.loads(raw)
        return PeriodicRun(
            tick=float(data["tick"]), jid=data.get("jid"), at=float(data.get("at") or 0),
            kind=str(data.get("kind") or "tick"), count=int(data.get("count") or 1),
        )  # fmt: skip
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _next(schedule: Schedule, now: datetime) -> datetime | None:
    try:
        return cron.next_run(schedule.cron, now, schedule.tz)
    except (cron.CronError, ValueError):
        return None
