"""Cluster-wide counters and sizes: what a dashboard's header shows.

Counters are Sidekiq's ``stat:processed`` / ``stat:failed`` (lifetime) and
``stat:processed:YYYY-MM-DD`` / ``stat:failed:YYYY-MM-DD`` (daily, UTC), written by every process's
heartbeat, Ruby or Python. A missing or unreadable counter reads as 0.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from henchman import keys
from henchman.api._common import count as _count, members
from henchman.api.queues import Queue

__all__ = ["Stats", "StatsSummary"]

#: Daily counters live five years (Sidekiq's limit on history queries too).
MAX_HISTORY_DAYS = 5 * 365


@dataclass(frozen=True, slots=True)
class StatsSummary:
    """Every number of :class:`Stats` read at one moment (two round trips)."""

    processed: int
    failed: int
    scheduled_size: int
    retry_size: int
    dead_size: int
    enqueued: int
    processes_size: int
    workers_size: int
    default_queue_latency: float
    #: Jobs given back to their queues by orphan recovery (henchman's own counter).
    recovered: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The numbers as a JSON-ready mapping."""
        return asdict(self)


class Stats:
    """Reads the counters and sizes; each property is one query when accessed."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        self._redis = client
        self._clock = clock
        #: The key layout (from the client unless given); per-queue sets are summed.
        self.layout = layout if layout is not None else keys.layout_of(client)

    @property
    def processed(self) -> int:
        """Jobs processed since the counters were created (failures included, as in Sidekiq)."""
        return _count(self._redis.get(self.layout.STAT_PROCESSED))

    @property
    def failed(self) -> int:
        """Jobs that failed since the counters were created."""
        return _count(self._redis.get(self.layout.STAT_FAILED))

    @property
    def scheduled_size(self) -> int:
        """Jobs in the ``schedule`` set."""
        return self._set_size(keys.SCHEDULE)

    @property
    def retry_size(self) -> int:
        """Jobs in the ``retry`` set."""
        return self._set_size(keys.RETRY)

    @property
    def dead_size(self) -> int:
        """Jobs in the ``dead`` set."""
        return self._set_size(keys.DEAD)

    @property
    def enqueued(self) -> int:
        """Jobs waiting in all queues."""
        return sum(self.queue_sizes().values())

    @property
    def processes_size(self) -> int:
        """Members of the ``processes`` set (may briefly include a process that just died)."""
        return int(self._redis.scard(self.layout.PROCESSES))

    @property
    def workers_size(self) -> int:
        """Jobs running right now: the sum of every process's ``busy``."""
        identities = self._identities()
        pipe = self._redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hget(self.layout.process(identity), "busy")
        return sum(_count(busy) for busy in pipe.execute())

    @property
    def default_queue_latency(self) -> float:
        """Seconds the oldest job in queue ``default`` has waited (0.0 when empty)."""
        return Queue(self._redis, "default", clock=self._clock, layout=self.layout).latency

    def queue_sizes(self) -> dict[str, int]:
        """Queue name -> size, largest first (ties by name)."""
        names = members(self._redis, self.layout.QUEUES)
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.llen(self.layout.queue(name))
        sizes = dict(zip(names, (int(n) for n in pipe.execute()), strict=True))
        return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))

    def summary(self) -> StatsSummary:
        """All the numbers at once (two pipelined round trips)."""
        layout = self.layout
        identities = self._identities()
        names = members(self._redis, layout.QUEUES)
        # One key per kind, or (cluster mode) one per kind and queue, summed below.
        set_keys = [self._set_keys(kind, names) for kind in (keys.SCHEDULE, keys.RETRY, keys.DEAD)]
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(layout.STAT_PROCESSED)
        pipe.get(layout.STAT_FAILED)
        pipe.get(layout.STAT_RECOVERED)
        for identity in identities:
            pipe.hget(layout.process(identity), "busy")
        for name in names:
            pipe.llen(layout.queue(name))
        for group in set_keys:
            for key in group:
                pipe.zcard(key)
        replies = pipe.execute()
        busy = replies[3 : 3 + len(identities)]
        at = 3 + len(identities)
        sizes = replies[at : at + len(names)]
        at += len(names)
        totals = []
        for group in set_keys:
            totals.append(sum(int(n) for n in replies[at : at + len(group)]))
            at += len(group)
        return StatsSummary(
            processed=_count(replies[0]),
            failed=_count(replies[1]),
            scheduled_size=totals[0],
            retry_size=totals[1],
            dead_size=totals[2],
            enqueued=sum(int(n) for n in sizes),
            processes_size=len(identities),
            workers_size=sum(_count(b) for b in busy),
            default_queue_latency=self.default_queue_latency,
            recovered=_count(replies[2]),
        )

    def history(
        self, days: int = 30, start: datetime.date | None = None
    ) -> dict[str, tuple[int, int]]:
        """Daily ``(processed, failed)`` for ``days`` days ending at ``start`` (default today,
        UTC), newest first, keyed ``YYYY-MM-DD``. Days without counters read (0, 0).

        Raises ``ValueError`` unless 1 <= ``days`` <= 1825 (daily counters live five years).
        """
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise ValueError(f"days must be between 1 and {MAX_HISTORY_DAYS}, got {days}")
        if start is None:
            start = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC).date()
        dates = [(start - datetime.timedelta(days=i)).isoformat() for i in range(days)]
        processed = self._redis.mget([self.layout.stat_processed_day(d) for d in dates])
        failed = self._redis.mget([self.layout.stat_failed_day(d) for d in dates])
        return {
            day: (_count(p), _count(f)) for day, p, f in zip(dates, processed, failed, strict=True)
        }

    def redis_info(self) -> dict[str, Any]:
        """The server's ``INFO`` (all default sections) as parsed by redis-py: version, uptime,
        clients, memory, persistence... A dashboard shows a few of these."""
        return dict(self._redis.info())

    def _identities(self) -> list[str]:
        return members(self._redis, self.layout.PROCESSES)

    def _set_keys(self, kind: str, names: list[str]) -> list[str]:
        """The keys holding the sorted set ``kind``: the one set, or every queue's own."""
        if not self.layout.per_queue_sets:
            return [kind]
        return [self.layout.sorted_set(kind, name) for name in names]

    def _set_size(self, kind: str) -> int:
        names = members(self._redis, self.layout.QUEUES) if self.layout.per_queue_sets else []
        return sum(int(self._redis.zcard(key)) for key in self._set_keys(kind, names))
