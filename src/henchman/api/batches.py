"""Batch status for scripts, the CLI and the Web UI (Sidekiq Pro's ``Batch::Status`` and
``BatchSet``)::

    from henchman.api import BatchSet, BatchStatus

    status = BatchStatus(bid)              # the default app's Redis; or BatchStatus(bid, client)
    print(status.total, status.pending, status.failures, status.failed_jids)
    if status.wait(timeout=600):           # until every job ran once (until="success" waits more)
        print("complete at", status.complete_at)
    for batch in BatchSet():               # newest first
        print(batch.bid, batch.description, batch.pending)

``pending`` counts the jobs that have not succeeded yet (failed ones included), ``failures``
those that failed and have not succeeded since; a batch's data expires 30 days after its
creation, 24 hours after its success, and is kept at least as long as the dead set keeps one of
its dead jobs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis

from henchman import keys
from henchman.api._common import text
from henchman.batches.model import Snapshot, parse
from henchman.errors import BatchError

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["BatchSet", "BatchStatus"]

_UNTIL = ("complete", "success")


def _queue_read(pipe: Any, bid: str) -> None:
    pipe.hgetall(keys.batch(bid))
    pipe.scard(keys.batch_jids(bid))
    pipe.smembers(keys.batch_failed(bid))
    pipe.smembers(keys.batch_died(bid))
    pipe.smembers(keys.batch_kids(bid))


def read(client: redis.Redis, bid: str) -> Snapshot | None:
    """One batch's snapshot in one round trip, or ``None`` if it does not exist (any more)."""
    pipe = client.pipeline(transaction=True)
    _queue_read(pipe, bid)
    return parse(bid, *pipe.execute())


async def aread(client: aredis.Redis, bid: str) -> Snapshot | None:
    """Asyncio twin of :func:`read`."""
    pipe = client.pipeline(transaction=True)
    _queue_read(pipe, bid)
    return parse(bid, *(await pipe.execute()))


def _client(client: redis.Redis | None, app: Henchman | None) -> redis.Redis:
    if client is not None:
        return client
    if app is None:
        from henchman.app import default_app

        app = default_app()
    return app.client.redis


class BatchStatus:
    """A batch's counts, jids, times and relatives, read when made and on :meth:`refresh`.

    Raises :class:`~henchman.errors.BatchError` if the batch does not exist (unknown id, or its
    data expired).
    """

    def __init__(
        self, bid: str, client: redis.Redis | None = None, *, app: Henchman | None = None
    ) -> None:
        self.bid = bid
        self._app = app
        self._client = _client(client, app)
        self._snapshot = self._load()

    def _load(self) -> Snapshot:
        found = read(self._client, self.bid)
        if found is None:
            raise BatchError(f"batch {self.bid} does not exist (unknown, or expired)")
        return found

    def refresh(self) -> BatchStatus:
        """Read the batch again; returns ``self``."""
        self._snapshot = self._load()
        return self

    @property
    def snapshot(self) -> Snapshot:
        """Everything read, as one frozen value."""
        return self._snapshot

    def __getattr__(self, name: str) -> Any:
        # total, pending, failures, failed_jids, dead_jids, child_bids, parent_bid, description,
        # callback_queue, created_at, complete_at, success_at, death_at, expires_at, callbacks
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._snapshot, name)

    @property
    def complete(self) -> bool:
        """True once every job ran at least once and every child batch completed."""
        return self._snapshot.complete_at is not None

    @property
    def success(self) -> bool:
        """True once every job succeeded and every child batch succeeded."""
        return self._snapshot.success_at is not None

    @property
    def dead(self) -> bool:
        """True once a job of the batch (or of a child) died."""
        return self._snapshot.death_at is not None

    def children(self) -> list[BatchStatus]:
        """The child batches that still exist."""
        found = []
        for bid in self._snapshot.child_bids:
            try:
                found.append(BatchStatus(bid, self._client))
            except BatchError:
                continue
        return found

    def data(self) -> dict[str, Any]:
        """Everything as a JSON-ready dict (the CLI's ``--json`` and the Web UI use it)."""
        snap = self._snapshot
        return {
            "bid": snap.bid,
            "description": snap.description,
            "callback_queue": snap.callback_queue,
            "parent_bid": snap.parent_bid,
            "child_bids": snap.child_bids,
            "total": snap.total,
            "pending": snap.pending,
            "failures": snap.failures,
            "failed_jids": snap.failed_jids,
            "dead_jids": snap.dead_jids,
            "created_at": snap.created_at,
            "complete_at": snap.complete_at,
            "success_at": snap.success_at,
            "death_at": snap.death_at,
            "expires_at": snap.expires_at,
            "callbacks": snap.callbacks,
        }

    def _reached(self, until: str) -> bool:
        return self.success if until == "success" else self.complete

    def wait(
        self, timeout: float | None = None, *, until: str = "complete", interval: float = 0.1
    ) -> bool:
        """Block until the batch is complete (or ``until="success"``); False on ``timeout``
        seconds (``None`` waits forever). Raises :class:`BatchError` if the batch expires."""
        if until not in _UNTIL:
            raise BatchError(f"wait(until={until!r}): use 'complete' or 'success'")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh()._reached(until):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    async def async_wait(
        self, timeout: float | None = None, *, until: str = "complete", interval: float = 0.1
    ) -> bool:
        """Asyncio twin of :meth:`wait` (reads through the app's asyncio client)."""
        if until not in _UNTIL:
            raise BatchError(f"wait(until={until!r}): use 'complete' or 'success'")
        app = self._app
        if app is None:
            from henchman.app import default_app

            app = default_app()
        client = app.aclient.redis
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = await aread(client, self.bid)
            if found is None:
                raise BatchError(f"batch {self.bid} does not exist (unknown, or expired)")
            self._snapshot = found
            if self._reached(until):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)


class BatchSet:
    """Every batch, newest first (the ``batches`` index; entries whose data expired are
    dropped from it as they are met)."""

    def __init__(self, client: redis.Redis | None = None, *, app: Henchman | None = None) -> None:
        self._client = _client(client, app)

    @property
    def size(self) -> int:
        """Batches in the index (some may have expired and not been met yet)."""
        return int(self._client.zcard(keys.BATCHES))

    def page(self, offset: int = 0, limit: int = 25) -> list[Snapshot]:
        """Up to ``limit`` batches from position ``offset``, newest first."""
        bids = self._client.zrevrange(keys.BATCHES, offset, offset + max(limit, 1) - 1)
        return self._read_many([text(b) for b in bids])

    def _read_many(self, bids: list[str]) -> list[Snapshot]:
        if not bids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for bid in bids:
            _queue_read(pipe, bid)
        replies = pipe.execute()
        found, gone = [], []
        for index, bid in enumerate(bids):
            snap = parse(bid, *replies[index * 5 : index * 5 + 5])
            if snap is None:
                gone.append(bid)
            else:
                found.append(snap)
        if gone:
            self._client.zrem(keys.BATCHES, *gone)
        return found

    def __iter__(self) -> Iterator[Snapshot]:
        bids = [text(b) for b in self._client.zrevrange(keys.BATCHES, 0, -1)]
        for start in range(0, len(bids), 100):
            yield from self._read_many(bids[start : start + 100])
