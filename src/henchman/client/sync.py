"""The synchronous client: plan a push, write it in one round trip, or buffer it (SPEC §6.3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import redis

from henchman import keys
from henchman.client.buffer import PushBuffer
from henchman.client.plan import ClientMiddleware, PushPlan, plan_bulk, plan_push
from henchman.client.replication import ReplicaWait
from henchman.client.writes import KnownQueues, queue_writes, registered_queues, single_lpush
from henchman.redis.lane import Lane


class Client:
    """Pushes jobs with a redis-py client. Thread-safe (redis-py's pool is)."""

    def __init__(
        self,
        connection: Callable[[], redis.Redis],
        middleware: Sequence[ClientMiddleware] = (),
        buffer: PushBuffer | None = None,
        clock: Callable[[], float] = time.time,
        replica_wait: ReplicaWait | None = None,
    ) -> None:
        self._connection = connection
        #: ``WAIT`` for replicas after each write (opt-in, ``push_wait_replicas``).
        self.replica_wait = replica_wait
        self._redis: redis.Redis | None = None
        self._lane: Lane | None = None
        self._lock = threading.Lock()
        self._known = KnownQueues()
        # Kept by reference: middleware the app adds later applies to later pushes.
        self.middleware = middleware if isinstance(middleware, list) else list(middleware)
        self.buffer = buffer
        self._clock = clock

    def _open(self) -> tuple[redis.Redis, Lane]:
        with self._lock:  # worker threads may push concurrently on first use
            if self._redis is None or self._lane is None:
                client = self._connection()
                self._lane = Lane(client)
                self._redis = client
            return self._redis, self._lane

    @property
    def redis(self) -> redis.Redis:
        """The redis-py client, opened on first use (so defining jobs never connects)."""
        return self._redis if self._redis is not None else self._open()[0]

    def push(
        self,
        name: str,
        args: Sequence[Any],
        options: Mapping[str, Any],
        *,
        delay: float | None = None,
        at: float | None = None,
        jid: str | None = None,
    ) -> str | None:
        """Push one job; return its jid, or ``None`` if a client middleware dropped it."""
        plan = plan_push(
            name, args, options, self.middleware, now=self._clock(), delay=delay, at=at, jid=jid
        )
        if plan is None:
            return None
        self.write([plan])
        return plan.jid

    def push_bulk(
        self,
        name: str,
        args_list: Iterable[Sequence[Any]],
        options: Mapping[str, Any],
        *,
        at: float | None = None,
        batch_size: int = 1000,
    ) -> list[str]:
        """Push many jobs of one kind, ``batch_size`` per round trip; every arg list is checked
        before the first write, so a bad one stores nothing."""
        plans = plan_bulk(name, args_list, options, self.middleware, now=self._clock(), at=at)
        for start in range(0, len(plans), batch_size):
            self.write(plans[start : start + batch_size])
        return [p.jid for p in plans]

    def write(self, plans: Sequence[PushPlan]) -> None:
        """Store planned pushes: straight to Redis, or into the reliable-push buffer if Redis is
        unreachable (raising :class:`~henchman.errors.PushBufferFull` if that is full)."""
        if self.buffer is not None:
            self.buffer.write(plans, self.write_now)
        else:
            self.write_now(plans)

    def write_now(self, plans: Sequence[PushPlan]) -> None:
        """Write planned pushes to Redis in one round trip (no buffering)."""
        wait = self.replica_wait
        single = single_lpush(plans, self._known) if wait is None else None
        if single is not None:
            lane = self._lane if self._lane is not None else self._open()[1]
            lane.execute("LPUSH", keys.queue(single.queue), single.raw)
            return
        pipe = self.redis.pipeline(transaction=False)
        queue_writes(pipe, plans)
        if wait is not None:
            wait.add_to(pipe)  # same connection as the writes: WAIT covers them
        replies = pipe.execute()
        if wait is not None:
            wait.check(replies[-1], plans)
        for queue in registered_queues(plans):
            self._known.registered(queue)

    def close(self) -> None:
        """Flush the buffer once more and close the connection pool."""
        if self.buffer is not None:
            self.buffer.flush(self.write_now)
        if self._redis is not None:
            if self._lane is not None:
                self._lane.close()
            self._redis.close()
            self._redis = None
            self._lane = None
