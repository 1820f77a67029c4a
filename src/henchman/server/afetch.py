"""The asyncio twin of :class:`~henchman.server.fetch.ReliableFetcher` for async-job workers.

Same keys, scripts and guarantees (see :mod:`henchman.server.fetch`); only the I/O differs. It
shares the thread fetcher's ledger and gate (:mod:`henchman.server.reconcile`); it never
reconciles itself: the thread fetcher's next round or the heartbeat does, on the sync client.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aredis

from henchman import keys
from henchman.config import QueueSpec
from henchman.redis.scripts import AsyncScripts
from henchman.redis.serial import async_script_pipeline
from henchman.server import queue_order
from henchman.server.cluster_fetch import SeenEmpty, afetch_round, give_back_calls
from henchman.server.fetch import (
    UnitOfWork,
    block_time,
    drain,
    fetch_args,
    fetch_keys,
    finishing,
    last_reply,
    log_errors,
    queue_acks,
    queue_give_back,
    units_from_reply,
    working_keys,
)
from henchman.server.outage import TRANSIENT, OutageLog, backoff_delay
from henchman.server.queue_list import ALL_PAUSED_WAIT, as_queue_list
from henchman.server.reconcile import Reconciler

#: How often (s) a fetch waiting for a reconcile to finish looks at the gate again.
GATE_POLL = 0.005


class AsyncReliableFetcher:
    """Reliable fetcher shared by the async worker tasks of one capsule (one event loop)."""

    reliable = True

    def __init__(
        self,
        client: aredis.Redis,
        scripts: AsyncScripts,
        identity: str,
        queues: Sequence[QueueSpec],
        *,
        block_timeout: float,
        outages: OutageLog,
        is_quiet: collections.abc.Callable[[], bool],
        rng: random.Random | None = None,
        acks: collections.deque[UnitOfWork] | None = None,
        reconciler: Reconciler | None = None,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._redis = client
        self._scripts = scripts
        self.layout = layout
        self._queues = as_queue_list(queues)
        #: In cluster mode, the queues the rounds saw empty lately (see cluster_fetch.arrange).
        self._empty = (
            SeenEmpty(weighted=not queue_order.is_strict(queues)) if layout.cluster else None
        )
        self.working = working_keys(identity, queues, layout)
        self._block = block_time(block_timeout, len(queues))
        self._outages = outages
        self._is_quiet = is_quiet
        self._rng = rng or random.Random()
        self._buffer: collections.deque[UnitOfWork] = collections.deque()
        self._lock = asyncio.Lock()
        self._idle = 0
        self._failures = 0
        #: True while a fetch round trip is in flight (a stop waits for it before requeueing).
        self.fetching = False
        #: Finished jobs whose acknowledgement rides on the next fetch round trip. The capsule
        #: shares its thread fetcher's queue here, so whichever side fetches next carries them.
        self.acks: collections.deque[UnitOfWork] = collections.deque() if acks is None else acks
        self._blocking = False
        self.reconciler = reconciler or Reconciler()
        self._ledger = self.reconciler.ledger

    async def take(self) -> UnitOfWork | None:
        """The next job, or ``None`` after a short idle wait or once quiet."""
        self._idle += 1
        try:
            while True:
                if self._buffer:
                    return self._buffer.popleft()
                if self._is_quiet():
                    return None
                if self._blocking and self.acks:
                    await self._flush_acks_safely()  # see ReliableFetcher._take
                async with self._lock:
                    if self._buffer or self._is_quiet():
                        continue
                    self.fetching = True
                    try:
                        units = await self._round()
                        if units and self._is_quiet():
                            await self._give_back(units)  # see ReliableFetcher._take
                            return None
                    finally:
                        self.fetching = False
                if units is None:
                    return None
                if units:
                    self._buffer.extend(units[1:])
                    return units[0]
        finally:
            self._idle -= 1

    async def _round(self) -> list[UnitOfWork] | None:
        queues = self._queues.active()
        if not queues:  # every queue paused: wait, do not spin
            await asyncio.sleep(ALL_PAUSED_WAIT)
            return None
        order = queue_order.order(queues, self._rng)
        gate = self.reconciler.gate
        while not gate.try_enter():  # a reconcile is deciding: it takes a few ms
            await asyncio.sleep(GATE_POLL)
        started = self._outages.now()
        try:
            units = await self._fetch(order)
        except TRANSIENT as exc:
            gate.leave()
            self.reconciler.fetch_failed()
            self._outages.failed(exc, started)
            await asyncio.sleep(backoff_delay(self._failures))
            self._failures += 1
            return []
        except BaseException:
            gate.leave()
            raise
        gate.leave()
        self._failures = 0
        self._outages.succeeded(started)
        return units if units else None

    async def _fetch(self, order: list[str]) -> list[UnitOfWork]:
        """See :meth:`ReliableFetcher._fetch <henchman.server.fetch.ReliableFetcher._fetch>`."""
        acks = drain(self.acks)
        try:
            reply = await self._fetch_call(order, acks)
        except BaseException:
            self.acks.extendleft(reversed(acks))
            raise
        units = units_from_reply(reply, order, self.working)
        if units:
            self._ledger.add(units)
        if acks:
            self._ledger.discard(acks)
        if not units and not self._is_quiet():
            first = order[0]
            self._blocking = True
            try:
                raw = await self._redis.blmove(
                    self.layout.queue(first),
                    self.working[first],
                    cast(int, self._block),
                    "RIGHT",
                    "LEFT",
                )
            finally:
                self._blocking = False
            if raw is not None:
                units = [UnitOfWork(first, cast(bytes, raw), self.working[first])]
                self._ledger.add(units)
        return units

    async def _fetch_call(self, order: Sequence[str], acks: list[UnitOfWork]) -> Any:
        """See :meth:`ReliableFetcher._fetch_call`."""
        if self.layout.cluster:  # one call per queue slot, in parallel (see cluster_fetch)
            return await afetch_round(
                self._scripts,
                self.layout,
                order,
                self.working,
                self._idle,
                acks,
                self._redis,
                self._empty,
            )
        call = ("fetch", fetch_keys(order, self.working), fetch_args(self._idle, order, acks))
        scripted = finishing(acks)
        if not scripted:
            return await self._scripts(*call)
        pipe = self._redis.pipeline(transaction=False)
        calls = queue_acks(pipe, scripted, self._scripts)
        self._scripts.queue(pipe, *call)
        replies = await self._scripts.execute(pipe, [*calls, call])
        return last_reply(replies)

    async def _give_back(self, units: list[UnitOfWork]) -> None:
        try:
            if self.layout.cluster:  # one atomic step per job, in its queue's slot
                for call in give_back_calls(units, self.layout):
                    await self._scripts(*call)
            else:
                pipe = self._redis.pipeline(transaction=True)
                queue_give_back(pipe, units)
                await pipe.execute()
        except TRANSIENT as exc:
            self._outages.failed(exc)  # a later reconcile (or the stop) gives them back
        self._ledger.discard(units)

    async def _flush_acks_safely(self) -> None:
        acks = drain(self.acks)
        if not acks:
            return
        pipe = async_script_pipeline(self._redis)
        calls = queue_acks(pipe, acks, self._scripts)
        try:
            log_errors(await self._scripts.execute(pipe, calls))
        except TRANSIENT as exc:
            self.acks.extendleft(reversed(acks))
            self._outages.failed(exc)
            return
        self._ledger.discard(acks)

    def drop_buffered(self) -> int:
        """Forget fetched-but-unstarted jobs (they stay in the working list for requeue)."""
        count = len(self._buffer)
        self._buffer.clear()
        return count
