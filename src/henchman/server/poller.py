"""The scheduled-set poller: moves due jobs from ``schedule`` and ``retry`` to their
queues with ``schedule.lua`` (at most 100 per call, atomically, fresh ``enqueued_at``).

Each process waits a random interval averaging (process count × 5 s), so a cluster of any size
checks about every 5 s without stampeding (Sidekiq's algorithm). Precision is about a poll
interval: a job scheduled for 12:00:00 runs a few seconds after, never before.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import redis

from henchman import keys
from henchman.redis.scripts import Scripts

BATCH = 100
#: Average poll interval per process (s); Sidekiq's default.
INTERVAL_PER_PROCESS = 5.0


def next_wait(process_count: int, average: float | None, rng: random.Random) -> float:
    """Seconds until the next poll: uniform in [avg/2, 1.5·avg) around the chosen average."""
    mean = average if average is not None else INTERVAL_PER_PROCESS * max(process_count, 1)
    return mean * rng.random() + mean / 2


class Poller:
    """Moves due scheduled and retry jobs."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        clock: Callable[[], float],
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._redis = client
        self._scripts = scripts
        self._clock = clock
        self._layout = layout

    def enqueue_due(self) -> int:
        """Move every job due now from both sets; return how many moved."""
        if self._layout.per_queue_sets:
            return self._enqueue_due_per_queue()
        moved = 0
        for zset in (keys.SCHEDULE, keys.RETRY):
            while True:
                count = int(
                    self._scripts(
                        "schedule",
                        [zset, keys.QUEUES],
                        [repr(self._clock()), BATCH, keys.QUEUE_PREFIX],
                    )
                )
                moved += count
                if count < BATCH:
                    break
        return moved

    def _enqueue_due_per_queue(self) -> int:
        """Cluster layout: every queue of the shared queues set has its own scheduled and retry
        sets in its own slot; each is moved with ``schedule_queue.lua``."""
        layout = self._layout
        moved = 0
        for member in self._redis.smembers(layout.QUEUES):
            name = member.decode() if isinstance(member, bytes) else str(member)
            for zset in (layout.schedule(name), layout.retry(name)):
                while True:
                    count = int(
                        self._scripts(
                            "schedule_queue",
                            [zset, layout.queue(name)],
                            [repr(self._clock()), BATCH],
                        )
                    )
                    moved += count
                    if count < BATCH:
                        break
        return moved

    def process_count(self) -> int:
        """Live processes (for the poll interval)."""
        return int(self._redis.scard(self._layout.PROCESSES))
