"""The asyncio client: the same plans as :mod:`.sync`, written with ``redis.asyncio``.

A ``redis.asyncio`` client belongs to one event loop, so one is kept per running loop.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aredis

from henchman import keys
from henchman.client.buffer import UNAVAILABLE, PushBuffer
from henchman.client.plan import ClientMiddleware, PushPlan, plan_bulk, plan_push
from henchman.client.replication import ReplicaWait
from henchman.client.writes import KnownQueues, queue_writes, registered_queues, single_lpush


class AsyncClient:
    """Pushes jobs from asyncio code. Shares planning with the sync client."""

    def __init__(
        self,
        connection: Callable[[], aredis.Redis],
        middleware: Sequence[ClientMiddleware] = (),
        clock: Callable[[], float] = time.time,
        buffer: PushBuffer | None = None,
        fallback_writer: Callable[[Sequence[PushPlan]], None] | None = None,
        replica_wait: ReplicaWait | None = None,
    ) -> None:
        self._connection = connection
        #: ``WAIT`` for replicas after each write (opt-in, ``push_wait_replicas``).
        self.replica_wait = replica_wait
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self.middleware = middleware if isinstance(middleware, list) else list(middleware)
        self._clock = clock
        #: Reliable push (SPEC §6.3): shared with the sync client, whose thread delivers it.
        self.buffer = buffer if fallback_writer is not None else None
        self._fallback_writer = fallback_writer
        self._known = KnownQueues()

    @property
    def redis(self) -> aredis.Redis:
        """The ``redis.asyncio`` client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._connection()
        return client

    async def push(
        self,
        name: str,
        args: Sequence[Any],
        options: Mapping[str, Any],
        *,
        delay: float | None = None,
        at: float | None = None,
        jid: str | None = None,
    ) -> str | None:
        """Asyncio twin of :meth:`henchman.client.Client.push`."""
        plan = plan_push(
            name, args, options, self.middleware, now=self._clock(), delay=delay, at=at, jid=jid
        )
        if plan is None:
            return None
        await self.write([plan])
        return plan.jid

    async def push_bulk(
        self,
        name: str,
        args_list: Iterable[Sequence[Any]],
        options: Mapping[str, Any],
        *,
        at: float | None = None,
        batch_size: int = 1000,
    ) -> list[str]:
        """Asyncio twin of :meth:`henchman.client.Client.push_bulk`."""
        plans = plan_bulk(name, args_list, options, self.middleware, now=self._clock(), at=at)
        for start in range(0, len(plans), batch_size):
            await self.write(plans[start : start + batch_size])
        return [p.jid for p in plans]

    async def write(self, plans: Sequence[PushPlan]) -> None:
        """Store planned pushes in one round trip, or buffer them while Redis is unreachable
        (behind anything already buffered, so order is kept)."""
        buffer, fallback = self.buffer, self._fallback_writer
        if buffer is not None and fallback is not None and len(buffer):
            buffer.enqueue(plans, fallback)
            return
        try:
            wait = self.replica_wait
            single = single_lpush(plans, self._known) if wait is None else None
            if single is not None:
                await self.redis.lpush(keys.queue(single.queue), single.raw)
                return
            pipe = self.redis.pipeline(transaction=False)
            queue_writes(pipe, plans)
            if wait is not None:
                wait.add_to(pipe)  # same connection as the writes: WAIT covers them
            replies = await pipe.execute()
            if wait is not None:
                wait.check(replies[-1], plans)
        except UNAVAILABLE:
            if buffer is None or fallback is None:
                raise
            buffer.enqueue(plans, fallback)
            return
        for queue in registered_queues(plans):
            self._known.registered(queue)

    async def aclose(self) -> None:
        """Close the running loop's connection pool."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()
