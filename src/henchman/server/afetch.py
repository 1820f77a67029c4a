"""The asyncio twin of :class:`~henchman.server.fetch.ReliableFetcher` for async-job workers.

Same keys, scripts and guarantees (see :mod:`henchman.server.fetch`); only the I/O differs.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Sequence
from typing import cast

import redis.asyncio as aredis

from henchman import keys
from henchman.config import QueueSpec
from henchman.redis.scripts import AsyncScripts
from henchman.server import queue_order
from henchman.server.fetch import (
    UnitOfWork,
    block_time,
    drain,
    fetch_args,
    fetch_keys,
    queue_acks,
    queue_give_back,
    units_from_reply,
    working_keys,
)
from henchman.server.outage import TRANSIENT, OutageLog, backoff_delay
from henchman.server.queue_list import ALL_PAUSED_WAIT, as_queue_list


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
    ) -> None:
        self._redis = client
        self._scripts = scripts
        self._queues = as_queue_list(queues)
        self.working = working_keys(identity, queues)
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
        try:
            acks = drain(self.acks)
            try:
                reply = await self._scripts(
                    "fetch", fetch_keys(order, self.working), fetch_args(self._idle, order, acks)
                )
            except BaseException:
                self.acks.extendleft(reversed(acks))
                raise
            units = units_from_reply(reply, order, self.working)
            if not units and not self._is_quiet():
                first = order[0]
                self._blocking = True
                try:
                    raw = await self._redis.blmove(
                        keys.queue(first),
                        self.working[first],
                        cast(int, self._block),
                        "RIGHT",
                        "LEFT",
                    )
                finally:
                    self._blocking = False
                units = (
                    []
                    if raw is None
                    else [UnitOfWork(first, cast(bytes, raw), self.working[first])]
                )
        except TRANSIENT as exc:
            self._outages.failed(exc)
            await asyncio.sleep(backoff_delay(self._failures))
            self._failures += 1
            return []
        self._failures = 0
        self._outages.succeeded()
        return units if units else None

    async def _give_back(self, units: list[UnitOfWork]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        queue_give_back(pipe, units)
        await pipe.execute()

    async def _flush_acks_safely(self) -> None:
        acks = drain(self.acks)
        if not acks:
            return
        pipe = self._redis.pipeline(transaction=False)
        queue_acks(pipe, acks)
        try:
            await pipe.execute()
        except TRANSIENT as exc:
            self.acks.extendleft(reversed(acks))
            self._outages.failed(exc)

    def drop_buffered(self) -> int:
        """Forget fetched-but-unstarted jobs (they stay in the working list for requeue)."""
        count = len(self._buffer)
        self._buffer.clear()
        return count
