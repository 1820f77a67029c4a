"""The ``schedule``, ``retry`` and ``dead`` sorted sets as the admin sees them.

Each member is a whole job payload; the score is float epoch seconds (run time for ``schedule`` and
``retry``, death time for ``dead``). Lists go newest first (highest score first), like Sidekiq's.

Every operation that moves a job is one Lua script call (``admin_move.lua``, ``admin_kill.lua``)
that removes the exact member bytes and writes the job elsewhere only if the removal happened: a
job is never in neither place nor in both, even when a worker's poller or another admin touches
the same job at the same moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

from henchman import keys
from henchman.api.records import JobRecord
from henchman.redis.scripts import source

__all__ = ["DeadSet", "RetrySet", "ScheduledSet", "SortedSet"]

_PAGE = 50
_BATCH = 100
#: Sidekiq's dead-set limits, overridable per instance from ``Settings``.
DEAD_MAX_JOBS = 10_000
DEAD_TIMEOUT = 180 * 24 * 3600.0


class SortedSet:
    """One of the job sorted sets. Cheap to create; every call reads Redis."""

    def __init__(
        self, client: redis.Redis, name: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = client
        self.name = name
        self._clock = clock
        self._move = client.register_script(source("admin_move"))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def size(self) -> int:
        """Number of jobs in the set."""
        return int(self._redis.zcard(self.name))

    def __iter__(self) -> Iterator[JobRecord]:
        """Jobs newest first (score descending), read in pages of 50.

        Deleting or moving the record just yielded does not make the iteration skip a job.
        """
        initial = self.size
        gone = 0
        page = 0
        while True:
            start = page * _PAGE - gone
            entries = _pairs(
                self._redis.zrevrange(self.name, start, start + _PAGE - 1, withscores=True)
            )
            if not entries:
                return
            page += 1
            for raw, score in entries:
                yield JobRecord(raw, score=float(score))
            gone = max(initial - self.size, 0)

    def page(self, offset: int = 0, limit: int = 25) -> list[JobRecord]:
        """Up to ``limit`` jobs starting ``offset`` jobs from the newest."""
        if limit <= 0:
            return []
        entries = _pairs(
            self._redis.zrevrange(self.name, offset, offset + limit - 1, withscores=True)
        )
        return [JobRecord(raw, score=float(score)) for raw, score in entries]

    def fetch(self, score: float, jid: str | None = None) -> list[JobRecord]:
        """Jobs with exactly ``score`` (and ``jid``, if given): how Web UI detail links find one."""
        entries = _pairs(self._redis.zrangebyscore(self.name, score, score, withscores=True))
        found = [JobRecord(raw, score=float(s)) for raw, s in entries]
        return [r for r in found if jid is None or r.jid == jid]

    def scan(self, text: str, *, batch: int = 100) -> Iterator[JobRecord]:
        """Jobs whose raw payload contains ``text`` (``ZSCAN MATCH *text*``), each once, in no
        particular order; ``batch`` is the ZSCAN ``COUNT`` hint (entries examined per call)."""
        seen: set[bytes] = set()
        pattern = f"*{_glob_escape(text)}*"
        found: Iterator[Any] = self._redis.zscan_iter(self.name, match=pattern, count=batch)
        for raw, score in found:
            if raw not in seen:
                seen.add(raw)
                yield JobRecord(bytes(raw), score=float(score))

    def find_job(self, jid: str) -> JobRecord | None:
        """The job with ``jid``, or None."""
        for record in self.scan(jid):
            if record.jid == jid:
                return record
        return None

    def delete(self, record: JobRecord) -> bool:
        """Remove the job with exactly ``record.raw``; False if it was no longer there."""
        return int(self._redis.zrem(self.name, record.raw)) > 0

    def retry(self, record: JobRecord) -> bool:
        """Push the job to its queue now, decrementing ``retry_count`` as Sidekiq's manual retry
        does (so it may become -1); the job gets a fresh ``enqueued_at``.

        Returns False if the job was no longer in the set (nothing pushed).
        """
        return self._move_raw([record.raw], decrement=True) > 0

    def add_to_queue(self, record: JobRecord) -> bool:
        """Push the job to its queue now, unchanged but for a fresh ``enqueued_at``.

        Returns False if the job was no longer in the set (nothing pushed).
        """
        return self._move_raw([record.raw], decrement=False) > 0

    def retry_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`retry` every job, oldest first; returns how many were pushed.

        ``progress`` is called with the number of jobs handled after each batch of 100."""
        return self._drain(lambda batch: self._move_raw(batch, decrement=True), progress)

    def add_all_to_queue(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`add_to_queue` every job, oldest first; returns how many were pushed."""
        return self._drain(lambda batch: self._move_raw(batch, decrement=False), progress)

    def clear(self) -> int:
        """Delete every job in the set; returns how many there were."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zcard(self.name)
        pipe.unlink(self.name)
        count, _ = pipe.execute()
        return int(count)

    # -- internals -------------------------------------------------------------------------

    def _move_raw(self, raws: list[bytes], *, decrement: bool) -> int:
        now = repr(float(self._clock()))  # repr keeps the decimal point Sidekiq 8 relies on
        args: list[Any] = [now, keys.QUEUE_PREFIX, "1" if decrement else "0", *raws]
        return int(self._move(keys=[self.name, keys.QUEUES], args=args))

    def _drain(
        self,
        action: Callable[[list[bytes]], int],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Apply ``action`` to batches of members, oldest first, until the set is empty."""
        total = 0
        while True:
            batch: list[bytes] = list(self._redis.zrange(self.name, 0, _BATCH - 1))  # type: ignore[arg-type]
            if not batch:
                return total
            total += action(batch)
            if progress is not None:
                progress(len(batch))


class _KillableSet(SortedSet):
    """A set whose jobs can be sent to the dead set (schedule and retry, not dead itself)."""

    _key: str

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        dead_max_jobs: int = DEAD_MAX_JOBS,
        dead_timeout: float = DEAD_TIMEOUT,
    ) -> None:
        super().__init__(client, self._key, clock=clock)
        self._kill = client.register_script(source("admin_kill"))
        self._dead_max_jobs = dead_max_jobs
        self._dead_timeout = dead_timeout

    def kill(self, record: JobRecord) -> bool:
        """Move the job to the dead set, scored now; the dead set is trimmed to its limits
        (``dead_max_jobs`` entries, ``dead_timeout`` seconds). Death handlers do not run.

        Returns False if the job was no longer in the set.
        """
        return self._kill_raw([record.raw]) > 0

    def kill_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`kill` every job; returns how many were moved."""
        return self._drain(self._kill_raw, progress)

    def _kill_raw(self, raws: list[bytes]) -> int:
        now = float(self._clock())
        args: list[Any] = [repr(now), repr(now - self._dead_timeout), self._dead_max_jobs, *raws]
        return int(self._kill(keys=[self.name, keys.DEAD], args=args))


class ScheduledSet(_KillableSet):
    """Jobs waiting for their run time (``schedule``)."""

    _key = keys.SCHEDULE


class RetrySet(_KillableSet):
    """Failed jobs waiting for their next attempt (``retry``)."""

    _key = keys.RETRY


class DeadSet(SortedSet):
    """Jobs that exhausted their retries (``dead``), scored by death time."""

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, keys.DEAD, clock=clock)


def _glob_escape(text: str) -> str:
    """Escape the characters Redis glob patterns treat specially."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _pairs(reply: Any) -> list[tuple[bytes, float]]:
    """(member, score) pairs of a WITHSCORES reply, typed."""
    return [(bytes(raw), float(score)) for raw, score in reply]
