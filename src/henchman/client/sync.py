"""The synchronous client: plan a push, write it in one round trip, or buffer it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import redis
from redis.commands.core import Script

from henchman import keys
from henchman.client import capture, cluster_writes
from henchman.client.buffer import UNAVAILABLE, PushBuffer
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
    deliver_args,
    deliver_keys,
    queue_writes,
    registered_queues,
    single_lpush,
)
from henchman.redis import scripts
from henchman.redis.lane import Lane
from henchman.redis.scripts import source
from henchman.redis.serial import SerialPipeline


class Client:
    """Pushes jobs with a redis-py client. Thread-safe (redis-py's pool is)."""

    def __init__(
        self,
        connection: Callable[[], redis.Redis],
        middleware: Sequence[ClientMiddleware] = (),
        buffer: PushBuffer | None = None,
        clock: Callable[[], float] = time.time,
        hooks: Sequence[PushHook] = (),
        replica_wait: ReplicaWait | None = None,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._connection = connection
        #: The key layout (Sidekiq's, or the cluster layout).
        self.layout = layout
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
        #: Called at each write; a sink it returns takes the pushes instead of Redis (how an
        #: integration defers pushes, e.g. until a database transaction commits).
        self.deferral: Callable[[], capture.PushSink | None] | None = None
        self._deliver_script: Script | None = None
        #: Push hooks (kept by reference, like ``middleware``): see :class:`PushHook`.
        self.hooks = hooks if isinstance(hooks, list) else list(hooks)
        self._scripts: dict[str, Script] = {}

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
            name, args, options, self.middleware, now=self._clock(), delay=delay, at=at, jid=jid,
            hooks=self.hooks,
        )  # fmt: skip
        if plan is None:
            return None
        if plan.script is not None and not self._held():
            return self._push_scripted(plan)
        self.write([plan])
        return plan.jid

    def _held(self) -> bool:
        """Whether a capture (a batch's ``jobs()`` block) or a deferral takes pushes now."""
        return capture.active() is not None or (
            self.deferral is not None and self.deferral() is not None
        )

    def _push_scripted(self, plan: PushPlan) -> str | None:
        """One push whose script may refuse it (``None``). While Redis is unreachable it is
        buffered like any push and its script decides when it is delivered."""
        assert plan.script is not None
        if self.buffer is not None and len(self.buffer):
            self.buffer.write([plan], self.write_now)  # behind the backlog, in order
            return plan.jid
        try:
            if self.layout.cluster:  # the queues set is in another slot than the script's keys
                self.redis.sadd(self.layout.QUEUES, plan.queue)
            reply = self._run_script(self.redis, plan.script)
        except UNAVAILABLE:
            if self.buffer is None:
                raise
            self.buffer.write([plan], self.write_now)
            return plan.jid
        return plan.jid if accepted(plan, reply) else None

    def _run_script(self, client: Any, write: ScriptedWrite) -> Any:
        script = self._scripts.get(write.script)
        if script is None:
            script = self._scripts[write.script] = self.redis.register_script(
                scripts.source(write.script)
            )
        if isinstance(client, SerialPipeline):  # cluster mode: run in order, on the client
            found = script
            client.defer(lambda: found(keys=write.keys, args=write.args))
            return None
        return script(keys=write.keys, args=write.args, client=client)

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
        plans = plan_bulk(
            name, args_list, options, self.middleware, now=self._clock(), at=at, hooks=self.hooks
        )
        for start in range(0, len(plans), batch_size):
            self.write(plans[start : start + batch_size])
        return [p.jid for p in plans]

    def write(self, plans: Sequence[PushPlan]) -> None:
        """Store planned pushes: straight to Redis, or into the reliable-push buffer if Redis is
        unreachable (raising :class:`~henchman.errors.PushBufferFull` if that is full). Inside
        a capturing context (a batch's ``jobs()`` block) they go to its sink instead."""
        sink = capture.active()
        if sink is None and self.deferral is not None:
            sink = self.deferral()  # e.g. Django: held until the transaction commits
        if sink is not None:
            sink.accept(plans)
            return
        self.deliver(plans)

    def deliver(self, plans: Sequence[PushPlan]) -> None:
        """:meth:`write`, never captured or deferred: what a sink calls when it lets go."""
        if self.buffer is not None:
            self.buffer.write(plans, self.write_now)
        else:
            self.write_now(plans)

    def write_now(self, plans: Sequence[PushPlan], *, once: bool = False) -> None:
        """Write planned pushes to Redis in one round trip (no buffering). ``once``: store each
        job only if no copy of it is already there (a redelivery after an unknown outcome)."""
        if once:
            self._deliver_once(plans)
            return
        wait = self.replica_wait
        single = single_lpush(plans, self._known) if wait is None else None
        if single is not None:
            if self.layout.cluster:
                self.redis.lpush(self.layout.queue(single.queue), single.raw)
                return
            lane = self._lane if self._lane is not None else self._open()[1]
            lane.execute("LPUSH", keys.queue(single.queue), single.raw)
            return
        pipe = (
            SerialPipeline(self.redis)  # may carry scripts, which cluster pipelines refuse
            if self.layout.cluster
            else self.redis.pipeline(transaction=False)
        )
        scripted = queue_writes(pipe, plans, self._run_script, self.layout)
        if wait is not None:
            wait.add_to(pipe)  # same connection as the writes: WAIT covers them
        replies = pipe.execute()
        for position, plan in scripted:
            accepted(plan, replies[position])
        if wait is not None:
            wait.check(replies[-1], plans)
        for queue in registered_queues(plans):
            self._known.registered(queue)

    def _deliver_once(self, plans: Sequence[PushPlan]) -> None:
        if self.layout.cluster:
            cluster_writes.deliver_once(self.redis, self.layout, plans)
            return
        script = self._deliver_script
        if script is None:
            script = self._deliver_script = self.redis.register_script(source("deliver"))
        script(keys=deliver_keys(), args=deliver_args(plans))

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
