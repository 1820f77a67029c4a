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
from henchman.client import capture
from henchman.client.buffer import UNAVAILABLE, PushBuffer, Writer, outcome_unknown
from henchman.client.plan import (
    ClientMiddleware,
    PushHook,
    PushPlan,
    ScriptedWrite,
    plan_bulk,
    plan_push,
)
from henchman.client.replication import ReplicaWait
from henchman.client.writes import (
    KnownQueues,
    accepted,
    queue_writes,
    registered_queues,
    single_lpush,
)
from henchman.redis import scripts
from henchman.redis.serial import AsyncSerialPipeline


class AsyncClient:
    """Pushes jobs from asyncio code. Shares planning with the sync client."""

    def __init__(
        self,
        connection: Callable[[], aredis.Redis],
        middleware: Sequence[ClientMiddleware] = (),
        clock: Callable[[], float] = time.time,
        buffer: PushBuffer | None = None,
        fallback_writer: Writer | None = None,
        hooks: Sequence[PushHook] = (),
        replica_wait: ReplicaWait | None = None,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._connection = connection
        #: The key layout (Sidekiq's, or the cluster layout).
        self.layout = layout
        #: ``WAIT`` for replicas after each write (opt-in, ``push_wait_replicas``).
        self.replica_wait = replica_wait
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self.middleware = middleware if isinstance(middleware, list) else list(middleware)
        self._clock = clock
        #: Reliable push: shared with the sync client, whose thread delivers it.
        self.buffer = buffer if fallback_writer is not None else None
        self._fallback_writer = fallback_writer
        self._known = KnownQueues()
        #: Push hooks (kept by reference): see :class:`~henchman.client.plan.PushHook`.
        self.hooks = hooks if isinstance(hooks, list) else list(hooks)

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
            name, args, options, self.middleware, now=self._clock(), delay=delay, at=at, jid=jid,
            hooks=self.hooks,
        )  # fmt: skip
        if plan is None:
            return None
        if plan.script is not None and capture.active() is None:
            return await self._push_scripted(plan)
        await self.write([plan])
        return plan.jid

    async def _push_scripted(self, plan: PushPlan) -> str | None:
        """Asyncio twin of the sync client's scripted push."""
        assert plan.script is not None
        buffer, fallback = self.buffer, self._fallback_writer
        if buffer is not None and fallback is not None and len(buffer):
            buffer.enqueue([plan], fallback)
            return plan.jid
        try:
            if self.layout.cluster:  # the queues set is in another slot than the script's keys
                await self.redis.sadd(self.layout.QUEUES, plan.queue)
            reply = await self._run_script(self.redis, plan.script)
        except UNAVAILABLE:
            if buffer is None or fallback is None:
                raise
            buffer.enqueue([plan], fallback)
            return plan.jid
        return plan.jid if accepted(plan, reply) else None

    def _run_script(self, client: Any, write: ScriptedWrite) -> Any:
        script = self.redis.register_script(scripts.source(write.script))
        if isinstance(client, AsyncSerialPipeline):  # cluster mode: run in order, on the client
            client.defer(lambda: script(keys=write.keys, args=write.args))
            return None
        return script(keys=write.keys, args=write.args, client=client)

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
        plans = plan_bulk(
            name, args_list, options, self.middleware, now=self._clock(), at=at, hooks=self.hooks
        )
        for start in range(0, len(plans), batch_size):
            await self.write(plans[start : start + batch_size])
        return [p.jid for p in plans]

    async def write(self, plans: Sequence[PushPlan]) -> None:
        """Store planned pushes in one round trip, or buffer them while Redis is unreachable
        (behind anything already buffered, so order is kept). Inside a capturing context (a
        batch's ``jobs()`` block) they go to its sink instead."""
        sink = capture.active()
        if sink is not None:
            await sink.aaccept(plans)
            return
        buffer, fallback = self.buffer, self._fallback_writer
        if buffer is not None and fallback is not None and len(buffer):
            buffer.enqueue(plans, fallback)
            return
        try:
            wait = self.replica_wait
            single = single_lpush(plans, self._known) if wait is None else None
            if single is not None:
                await self.redis.lpush(self.layout.queue(single.queue), single.raw)
                return
            pipe = (
                AsyncSerialPipeline(self.redis)  # may carry scripts: cluster pipelines refuse
                if self.layout.cluster
                else self.redis.pipeline(transaction=False)
            )
            scripted = queue_writes(pipe, plans, self._run_script, self.layout)
            if wait is not None:
                wait.add_to(pipe)  # same connection as the writes: WAIT covers them
            replies = await pipe.execute()
            for position, plan in scripted:
                accepted(plan, replies[position])
            if wait is not None:
                wait.check(replies[-1], plans)
        except UNAVAILABLE as exc:
            if buffer is None or fallback is None:
                raise
            buffer.enqueue(plans, fallback, uncertain=outcome_unknown(exc))
            return
        for queue in registered_queues(plans):
            self._known.registered(queue)

    async def aclose(self) -> None:
        """Close the running loop's connection pool."""
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()
