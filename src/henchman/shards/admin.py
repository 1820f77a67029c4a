"""The admin read model over every shard: what the CLI and Web UI show of a sharded setup.

Queues are listed from every shard, each with the shard it lives on; the retry, scheduled and
dead sets of all shards read as one (newest first, merged by score); stats are summed (the
processed/failed counters and the process registry live on the default shard, the sets and
queues on theirs). Every action on a job is applied on the shard that holds it: it is tried on
each shard in turn, and the job's exact bytes are in at most one of them. Pausing writes the
``paused`` set of the default shard, which is where workers read it.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis

from henchman.api import DeadSet, JobRecord, Queue, QueueSummary, RetrySet, ScheduledSet, Stats
from henchman.api.sorted_sets import SortedSet
from henchman.api.stats import StatsSummary
from henchman.client.sync import Client
from henchman.config import Settings
from henchman.redis.connection import Connector
from henchman.results.record import ResultRecord
from henchman.results.store import ResultStore
from henchman.shards.client import ShardedClient, shard_settings
from henchman.shards.routing import DEFAULT, ShardMap, shard_label

__all__ = ["MergedSet", "ResultStores", "ShardAdmin", "ShardQueue", "ShardQueueSummary"]


@dataclass(frozen=True, slots=True)
class ShardQueueSummary(QueueSummary):
    """A queue's numbers and the shard it lives on (``default`` or a masked URL)."""

    shard: str = DEFAULT


class ShardQueue(Queue):
    """A queue on its shard; its pause state is the default shard's ``paused`` set."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        pauses: redis.Redis,
        shard: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, name, clock=clock)
        self._pauses = pauses
        #: Where the queue lives: ``default`` or the shard's URL with its password masked.
        self.shard = shard

    @property
    def paused(self) -> bool:
        return Queue(self._pauses, self.name).paused

    def pause(self) -> None:
        Queue(self._pauses, self.name).pause()

    def unpause(self) -> None:
        Queue(self._pauses, self.name).unpause()


class MergedSet(SortedSet):
    """One of the job sorted sets read across shards; actions go to the shard holding the job."""

    def __init__(self, parts: list[SortedSet]) -> None:
        first = parts[0]
        super().__init__(first._redis, first.name, clock=first._clock)
        self.parts = parts

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    def __iter__(self) -> Iterator[JobRecord]:
        return heapq.merge(*self.parts, key=_newest_first)

    def page(self, offset: int = 0, limit: int = 25) -> list[JobRecord]:
        if limit <= 0:
            return []
        merged = heapq.merge(*(p.page(0, offset + limit) for p in self.parts), key=_newest_first)
        return list(itertools.islice(merged, offset, offset + limit))

    def fetch(self, score: float, jid: str | None = None) -> list[JobRecord]:
        return [r for part in self.parts for r in part.fetch(score, jid)]

    def scan(self, text: str, *, batch: int = 100) -> Iterator[JobRecord]:
        return itertools.chain.from_iterable(p.scan(text, batch=batch) for p in self.parts)

    def find_job(self, jid: str) -> JobRecord | None:
        return next((r for p in self.parts if (r := p.find_job(jid)) is not None), None)

    def delete(self, record: JobRecord) -> bool:
        return any(part.delete(record) for part in self.parts)

    def retry(self, record: JobRecord) -> bool:
        return any(part.retry(record) for part in self.parts)

    def add_to_queue(self, record: JobRecord) -> bool:
        return any(part.add_to_queue(record) for part in self.parts)

    def kill(self, record: JobRecord) -> bool:
        """Move the job to the dead set of its shard (retry and scheduled sets only)."""
        return any(part.kill(record) for part in self.parts if isinstance(part, _KILLABLE))

    def retry_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        return sum(part.retry_all(progress=progress) for part in self.parts)

    def add_all_to_queue(self, *, progress: Callable[[int], None] | None = None) -> int:
        return sum(part.add_all_to_queue(progress=progress) for part in self.parts)

    def kill_all(self, *, progress: Callable[[int], None] | None = None) -> int:
        """:meth:`kill` every job of every shard."""
        return sum(
            part.kill_all(progress=progress) for part in self.parts if isinstance(part, _KILLABLE)
        )

    def clear(self) -> int:
        return sum(part.clear() for part in self.parts)


_KILLABLE = (RetrySet, ScheduledSet)


def _newest_first(record: JobRecord) -> float:
    return -(record.score or 0.0)


class ShardAdmin:
    """Clients of every shard (the default one given, the others opened here) and the views
    over them. Thread-safe; close it to close the clients it opened."""

    def __init__(self, settings: Settings, default: redis.Redis) -> None:
        self.settings = settings
        self.map = ShardMap(settings.shards)
        self.default = default
        self._clients: dict[str, redis.Redis] = {}
        self._lock = threading.Lock()

    def client(self, shard: str) -> redis.Redis:
        """The client of ``shard`` (a URL, or ``default``)."""
        if shard == DEFAULT:
            return self.default
        with self._lock:
            client = self._clients.get(shard)
            if client is None:
                connector = Connector(shard_settings(self.settings, shard))
                client = self._clients[shard] = connector.sync()
            return client

    def clients(self) -> list[tuple[str, redis.Redis]]:
        """(shard, client) of every shard, the default one first."""
        return [(shard, self.client(shard)) for shard in self.map.names()]

    def queue(self, name: str, *, clock: Callable[[], float] = time.time) -> ShardQueue:
        """Queue ``name`` on the shard it is routed to (where it is pushed and fetched)."""
        shard = self.map.shard_of(name)
        return ShardQueue(
            self.client(shard), name, pauses=self.default, shard=shard_label(shard), clock=clock
        )

    def queues(self, *, clock: Callable[[], float] = time.time) -> list[ShardQueue]:
        """Every queue of every shard, by name, then shard."""
        found = [
            ShardQueue(client, q.name, pauses=self.default, shard=shard_label(shard), clock=clock)
            for shard, client in self.clients()
            for q in Queue.all(client)
        ]
        return sorted(found, key=lambda q: (q.name, q.shard != DEFAULT, q.shard))

    def queue_summaries(self, *, clock: Callable[[], float] = time.time) -> list[ShardQueueSummary]:
        """:meth:`Queue.summaries` of every shard, each with its shard; paused per default."""
        paused = {q.name for q in Queue.summaries(self.default, clock=clock) if q.paused}
        found = [
            ShardQueueSummary(
                s.name, s.size, s.latency, s.paused or s.name in paused, shard_label(shard)
            )
            for shard, client in self.clients()
            for s in Queue.summaries(client, clock=clock)
        ]
        return sorted(found, key=lambda q: (q.name, q.shard != DEFAULT, q.shard))

    def retries(self, **options: float) -> MergedSet:
        """The retry sets of all shards as one."""
        return MergedSet([RetrySet(c, **options) for _, c in self.clients()])  # type: ignore[arg-type]

    def scheduled(self, **options: float) -> MergedSet:
        """The schedules of all shards as one."""
        return MergedSet([ScheduledSet(c, **options) for _, c in self.clients()])  # type: ignore[arg-type]

    def dead(self, *, clock: Callable[[], float] = time.time) -> MergedSet:
        """The dead sets of all shards as one."""
        return MergedSet([DeadSet(c, clock=clock) for _, c in self.clients()])

    def summary(self, *, clock: Callable[[], float] = time.time) -> StatsSummary:
        """Stats summed over shards; the default queue's latency read on its shard."""
        parts = [Stats(c, clock=clock).summary() for _, c in self.clients()]
        total = parts[0]
        for part in parts[1:]:
            total = dataclasses.replace(
                total,
                **{
                    f.name: getattr(total, f.name) + getattr(part, f.name)
                    for f in dataclasses.fields(StatsSummary)
                    if f.name != "default_queue_latency"
                },
            )
        latency = self.queue("default", clock=clock).latency
        return dataclasses.replace(total, default_queue_latency=latency)

    def queue_sizes(self) -> dict[str, int]:
        """Queue name -> size summed over shards, largest first (ties by name)."""
        sizes: dict[str, int] = {}
        for _, client in self.clients():
            for name, size in Stats(client).queue_sizes().items():
                sizes[name] = sizes.get(name, 0) + size
        return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))

    def close(self) -> None:
        """Close the clients opened for the non-default shards."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def admin_for(settings: Settings, default: redis.Redis) -> ShardAdmin | None:
    """A :class:`ShardAdmin` when ``shards`` are configured, else None (one server)."""
    return ShardAdmin(settings, default) if settings.shards else None


class ResultStores:
    """Reads a job's result record on whichever shard holds it (a record is written on its
    job's shard, and a jid does not say which that is)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def read(self, jid: str) -> ResultRecord | None:
        """The first shard's record of ``jid``, default shard first; None if none has one."""
        if not isinstance(self._client, ShardedClient):
            return ResultStore(self._client.redis).read(jid)
        for shard in self._client.shards.map.names():
            found = ResultStore(self._client.for_shard(shard).redis).read(jid)
            if found is not None:
                return found
        return None
