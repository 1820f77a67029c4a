"""Queues as the admin sees them: the ``queue:<name>`` lists of Sidekiq's layout.

A queue is a LIST pushed on the left, so index 0 is the newest job and index -1 the head (the next
job a worker takes). ``queues`` is the SET of known queue names; ``paused`` the SET of paused ones
(Sidekiq Pro layout). Everything here reads Ruby Sidekiq's queues as well as henchman's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis

from henchman import keys
from henchman.api._common import members
from henchman.api.records import JobRecord

__all__ = ["Queue", "QueueSummary"]

_PAGE = 50
#: Entries read per LRANGE when looking for a job by its digest.
_FIND_PAGE = 500


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """One queue's numbers read together: what a queue list shows."""

    name: str
    size: int
    latency: float
    paused: bool


class Queue:
    """One queue. Cheap to create; every property reads Redis when accessed."""

    def __init__(
        self,
        client: redis.Redis,
        name: str = "default",
        *,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        self._redis = client
        self.name = name
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)
        self.key = self.layout.queue(name)
        self._clock = clock

    def __repr__(self) -> str:
        return f"<Queue {self.name!r}>"

    @classmethod
    def all(cls, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> list[Queue]:
        """Every queue in the ``queues`` set, sorted by name."""
        layout = keys.layout_of(client)
        names = members(client, layout.QUEUES)
        return [cls(client, name, clock=clock, layout=layout) for name in names]

    @classmethod
    def summaries(
        cls, client: redis.Redis, *, clock: Callable[[], float] = time.time
    ) -> list[QueueSummary]:
        """Name, size, latency and paused flag of every queue, sorted by name, in two round
        trips whatever the number of queues."""
        layout = keys.layout_of(client)
        names = members(client, layout.QUEUES)
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(layout.queue(name))
            pipe.lindex(layout.queue(name), -1)
            pipe.sismember(layout.PAUSED, name)
        replies = pipe.execute()
        now = clock()
        found = []
        for index, name in enumerate(names):
            size, head, paused = replies[3 * index : 3 * index + 3]
            latency = 0.0
            if head is not None:
                record = JobRecord(head, queue=name)
                latency = record.latency(now) if record.enqueued_at is not None else 0.0
            found.append(QueueSummary(name, int(size), latency, bool(paused)))
        return found

    @property
    def size(self) -> int:
        """Number of jobs waiting."""
        return int(self._redis.llen(self.key))

    @property
    def latency(self) -> float:
        """Seconds the job at the head has waited (``now - enqueued_at``); 0.0 when empty.

        Accepts Sidekiq 8's integer-millisecond ``enqueued_at``; an unreadable head counts as 0.
        """
        head = self._redis.lindex(self.key, -1)
        if head is None:
            return 0.0
        record = JobRecord(head, queue=self.name)
        if record.enqueued_at is None:
            return 0.0
        return record.latency(self._clock())

    @property
    def registered(self) -> bool:
        """Whether the queue is in the ``queues`` set (listed even when empty)."""
        return bool(self._redis.sismember(self.layout.QUEUES, self.name))

    @property
    def paused(self) -> bool:
        """Whether the queue is in the ``paused`` set (workers do not fetch from it)."""
        return bool(self._redis.sismember(self.layout.PAUSED, self.name))

    def pause(self) -> None:
        """Stop workers fetching from this queue; its jobs stay where they are."""
        self._redis.sadd(self.layout.PAUSED, self.name)

    def unpause(self) -> None:
        """Let workers fetch from this queue again."""
        self._redis.srem(self.layout.PAUSED, self.name)

    def __iter__(self) -> Iterator[JobRecord]:
        """Jobs from newest to oldest (head last), read in pages of 50.

        Deleting the record just yielded while iterating does not skip any job (like Sidekiq, the
        next page is shifted by the number of jobs that disappeared).
        """
        initial = self.size
        deleted = 0
        page = 0
        while True:
            start = page * _PAGE - deleted
            entries = self._redis.lrange(self.key, start, start + _PAGE - 1)
            if not entries:
                return
            page += 1
            for raw in entries:
                yield JobRecord(raw, queue=self.name)
            deleted = max(initial - self.size, 0)

    def page(self, offset: int = 0, limit: int = 25) -> list[JobRecord]:
        """Up to ``limit`` jobs starting ``offset`` jobs from the newest."""
        if limit <= 0:
            return []
        entries = self._redis.lrange(self.key, offset, offset + limit - 1)
        return [JobRecord(raw, queue=self.name) for raw in entries]

    def find_job(self, jid: str) -> JobRecord | None:
        """The job with ``jid``, or None. Scans the whole list (O(n), like Sidekiq)."""
        needle = jid.encode()
        for record in self:
            if needle in record.raw and record.jid == jid:
                return record
        return None

    def delete(self, record: JobRecord) -> bool:
        """Remove the job with exactly ``record.raw``; False if it was no longer there."""
        return int(self._redis.lrem(self.key, 1, record.raw)) > 0  # type: ignore[arg-type]

    def delete_by_digest(self, digest: str, near: int = 0) -> bool:
        """Remove the job whose :attr:`JobRecord.digest` is ``digest``, last seen at index
        ``near``; False if it is no longer in the queue.

        New jobs are pushed on the left, so a job only moves right (towards the head) after it
        was seen: the search reads pages from just before ``near`` to the end of the list. A job
        that already ran took every older job with it, so a miss reads little.
        """
        start = max(near - _PAGE, 0)
        while True:
            entries = self._redis.lrange(self.key, start, start + _FIND_PAGE - 1)
            for raw in entries:
                if JobRecord(raw).digest == digest:
                    return self.delete(JobRecord(raw))
            if len(entries) < _FIND_PAGE:
                return False
            start += _FIND_PAGE

    def clear(self) -> int:
        """Delete every job and forget the queue (``UNLINK`` + ``SREM queues``, as Sidekiq);
        returns how many jobs were deleted.

        In cluster mode the name stays in the queues set: the poller finds the queue's scheduled
        and retry sets through it, and a scheduled push registering the name at that moment must
        not be undone."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.llen(self.key)
        pipe.unlink(self.key)
        if self.layout.cluster:
            count, _ = pipe.execute()
            return int(count)
        pipe.srem(self.layout.QUEUES, self.name)
        count, _, _ = pipe.execute()
        return int(count)
