"""The ``schedule``, ``retry`` and ``dead`` sorted sets as the admin sees them.

Each member is a whole job payload; the score is float epoch seconds (run time for ``schedule`` and
``retry``, death time for ``dead``). Lists go newest first (highest score first), like Sidekiq's.

Every operation that moves a job is one Lua script call (``admin_move.lua``, ``admin_kill.lua``)
that removes the exact member bytes and writes the job elsewhere only if the removal happened: a
job is never in neither place nor in both, even when a worker's poller or another admin touches
the same job at the same moment.

In cluster mode each queue has its own scheduled, retry and dead set (in the queue's hash slot);
these classes then show one merged view of the sets of every queue in the shared queues set:
pages are merged by score, sizes summed, and each move is still one script call on the job's
own queue slot (``admin_move_queue.lua``, ``admin_kill.lua`` on the queue's dead set).
"""

from __future__ import annotations

import heapq
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
        self,
        client: redis.Redis,
        name: str,
        *,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        self._redis = client
        self.name = name
        self._clock = clock
        #: The key layout; with per-queue sets, ``name`` is the kind and the keys are per queue.
        self.layout = layout if layout is not None else keys.layout_of(client)
        self._per_queue = self.layout.per_queue_sets
        self._move = client.register_script(
            source("admin_move_queue" if self._per_queue else "admin_move")
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _queue_keys(self) -> list[tuple[str, str]]:
        """Cluster layout: (queue, key) of this kind's set of every known queue."""
        names = sorted(_text(m) for m in self._redis.smembers(self.layout.QUEUES))
        return [(q, self.layout.sorted_set(self.name, q)) for q in names]

    def _key_of(self, record: JobRecord) -> str:
        return self.layout.sorted_set(self.name, record.queue) if self._per_queue else self.name

    @property
    def size(self) -> int:
        """Number of jobs in the set."""
        if self._per_queue:
            return sum(int(self._redis.zcard(key)) for _, key in self._queue_keys())
        return int(self._redis.zcard(self.name))

    def __iter__(self) -> Iterator[JobRecord]:
        """Jobs newest first (score descending), read in pages of 50.

        Deleting or moving the record just yielded does not make the iteration skip a job.
        """
        if self._per_queue:
            yield from self._merged_iter()
            return
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
        if self._per_queue:
            return self._merged_page(offset, limit)
        entries = _pairs(
            self._redis.zrevrange(self.name, offset, offset + limit - 1, withscores=True)
        )
        return [JobRecord(raw, score=float(score)) for raw, score in entries]

    def fetch(self, score: float, jid: str | None = None) -> list[JobRecord]:
        """Jobs with exactly ``score`` (and ``jid``, if given): how Web UI detail links find one."""
        if self._per_queue:
            found = [
                JobRecord(raw, score=float(s), queue=queue)
                for queue, key in self._queue_keys()
                for raw, s in _pairs(self._redis.zrangebyscore(key, score, score, withscores=True))
            ]
            return [r for r in found if jid is None or r.jid == jid]
        entries = _pairs(self._redis.zrangebyscore(self.name, score, score, withscores=True))
        found = [JobRecord(raw, score=float(s)) for raw, s in entries]
        return [r for r in found if jid is None or r.jid == jid]

    def scan(self, text: str, *, batch: int = 100) -> Iterator[JobRecord]:
        """Jobs whose raw payload contains ``text`` (``ZSCAN MATCH *text*``), each once, in no
        particular order; ``batch`` is the ZSCAN ``COUNT`` hint (entries examined per call)."""
        pattern = f"*{_glob_escape(text)}*"
        sets = self._queue_keys() if self._per_queue else [(None, self.name)]
        for queue, key in sets:
            seen: set[bytes] = set()
            found: Iterator[Any] = self._redis.zscan_iter(key, match=pattern, count=batch)
            for raw, score in found:
                if raw not in seen:
                    seen.add(raw)
                    yield JobRecord(bytes(raw), score=float(score), queue=queue)

    def find_job(self, jid: str) -> JobRecord | None:
        """The job with ``jid``, or None."""
        for record in self.scan(jid):
            if record.jid == jid:
                return record
        return None

    def delete(self, record: JobRecord) -> bool:
        """Remove the job with exactly ``record.raw``; False if it was no longer there."""
        return int(self._redis.zrem(self._key_of(record), record.raw)) > 0

    def retry(self, record: JobRecord) -> bool:
        """Push the job to its queue now, decrementing ``retry_count`` as Sidekiq's manual retry
        does (so it may become -1); the job gets a fresh ``enqueued_at``.

        Returns False if the job was no longer in the set (nothing pushed).
        """
        return self._move_raw([record.raw], decrement=True, queue=record.queue) > 0

    def add_to_queue(self, record: JobRecord) -> bool:
        """Push the job to its queue now, unchanged but for a fresh ``enqueued_at``.

        Returns False if the job was no longer in the set (nothing pushed).
        """
        return self._move_raw([record.raw], decrement=False, queue=record.queue) > 0

    def retry_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`retry` every job, oldest first; returns how many were pushed.

        ``progress`` is called with the number of jobs handled after each batch of 100."""
        return self._drain(
            lambda batch, q: self._move_raw(batch, decrement=True, queue=q), progress
        )

    def add_all_to_queue(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`add_to_queue` every job, oldest first; returns how many were pushed."""
        return self._drain(
            lambda batch, q: self._move_raw(batch, decrement=False, queue=q), progress
        )

    def clear(self) -> int:
        """Delete every job in the set; returns how many there were."""
        if self._per_queue:
            total = 0
            for _, key in self._queue_keys():
                pipe = self._redis.pipeline(transaction=True)  # one slot per key
                pipe.zcard(key)
                pipe.unlink(key)
                total += int(pipe.execute()[0])
            return total
        pipe = self._redis.pipeline(transaction=True)
        pipe.zcard(self.name)
        pipe.unlink(self.name)
        count, _ = pipe.execute()
        return int(count)

    # -- internals -------------------------------------------------------------------------

    def _merged_page(self, offset: int, limit: int) -> list[JobRecord]:
        """Cluster layout: the page of the merged view, newest first (ties by queue name)."""
        found: list[tuple[float, str, bytes]] = []
        for queue, key in self._queue_keys():
            for raw, score in _pairs(
                self._redis.zrevrange(key, 0, offset + limit - 1, withscores=True)
            ):
                found.append((score, queue, raw))
        found.sort(key=lambda e: (-e[0], e[1]))
        return [JobRecord(raw, score=score, queue=q) for score, q, raw in found[offset:][:limit]]

    def _merged_iter(self) -> Iterator[JobRecord]:
        """Cluster layout: every queue's set read as :meth:`__iter__` reads one, merged newest
        first (the merge reads a set's next page only after its last record was handled)."""
        sets = [self._iter_key(key, queue) for queue, key in self._queue_keys()]
        yield from heapq.merge(*sets, key=lambda record: -(record.score or 0.0))

    def _iter_key(self, key: str, queue: str) -> Iterator[JobRecord]:
        initial = int(self._redis.zcard(key))
        gone = 0
        page = 0
        while True:
            start = page * _PAGE - gone
            entries = _pairs(self._redis.zrevrange(key, start, start + _PAGE - 1, withscores=True))
            if not entries:
                return
            page += 1
            for raw, score in entries:
                yield JobRecord(raw, score=float(score), queue=queue)
            gone = max(initial - int(self._redis.zcard(key)), 0)

    def _move_raw(self, raws: list[bytes], *, decrement: bool, queue: str | None = None) -> int:
        now = repr(float(self._clock()))  # repr keeps the decimal point Sidekiq 8 relies on
        if self._per_queue:
            name = queue or ""
            return int(
                self._move(
                    keys=[self.layout.sorted_set(self.name, name), self.layout.queue(name)],
                    args=[now, "1" if decrement else "0", *raws],
                )
            )
        args: list[Any] = [now, keys.QUEUE_PREFIX, "1" if decrement else "0", *raws]
        return int(self._move(keys=[self.name, keys.QUEUES], args=args))

    def _drain(
        self,
        action: Callable[[list[bytes], str | None], int],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Apply ``action`` to batches of members, oldest first, until the set (every queue's,
        in cluster mode) is empty."""
        total = 0
        sets = self._queue_keys() if self._per_queue else [(None, self.name)]
        for queue, key in sets:
            while True:
                batch: list[bytes] = list(self._redis.zrange(key, 0, _BATCH - 1))  # type: ignore[arg-type]
                if not batch:
                    break
                total += action(batch, queue)
                if progress is not None:
                    progress(len(batch))
        return total


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
        layout: keys.KeyLayout | None = None,
    ) -> None:
        super().__init__(client, self._key, clock=clock, layout=layout)
        self._kill = client.register_script(source("admin_kill"))
        self._dead_max_jobs = dead_max_jobs
        self._dead_timeout = dead_timeout

    def kill(self, record: JobRecord) -> bool:
        """Move the job to the dead set, scored now; the dead set is trimmed to its limits
        (``dead_max_jobs`` entries, ``dead_timeout`` seconds). Death handlers do not run.

        Returns False if the job was no longer in the set.
        """
        return self._kill_raw([record.raw], record.queue) > 0

    def kill_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`kill` every job; returns how many were moved."""
        return self._drain(self._kill_raw, progress)

    def _kill_raw(self, raws: list[bytes], queue: str | None = None) -> int:
        now = float(self._clock())
        args: list[Any] = [repr(now), repr(now - self._dead_timeout), self._dead_max_jobs, *raws]
        if self._per_queue:  # the queue's own set and dead set: one slot
            name = queue or ""
            sets = [self.layout.sorted_set(self.name, name), self.layout.dead(name)]
            return int(self._kill(keys=sets, args=args))
        return int(self._kill(keys=[self.name, keys.DEAD], args=args))


class ScheduledSet(_KillableSet):
    """Jobs waiting for their run time (``schedule``)."""

    _key = keys.SCHEDULE


class RetrySet(_KillableSet):
    """Failed jobs waiting for their next attempt (``retry``)."""

    _key = keys.RETRY


class DeadSet(SortedSet):
    """Jobs that exhausted their retries (``dead``), scored by death time."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        super().__init__(client, keys.DEAD, clock=clock, layout=layout)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    """Escape the characters Redis glob patterns treat specially."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _pairs(reply: Any) -> list[tuple[bytes, float]]:
    """(member, score) pairs of a WITHSCORES reply, typed."""
    return [(bytes(raw), float(score)) for raw, score in reply]
