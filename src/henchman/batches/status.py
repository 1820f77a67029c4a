"""A batch's status, read in one round trip (Sidekiq Pro's ``Batch::Status``).

``Batch.status()`` and the admin API (``henchman.api.BatchStatus``, ``BatchSet``) both read
batches here; the admin API re-exports :class:`BatchStatus`, its documented home.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis

from henchman import keys
from henchman.app_default import default_app
from henchman.batches.model import Snapshot, parse
from henchman.errors import BatchError

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["BatchStatus", "aread", "client_for", "queue_read", "read"]

_UNTIL = ("complete", "success")


def queue_read(pipe: Any, bid: str, layout: keys.KeyLayout = keys.SIDEKIQ) -> None:
    """Queue the reads of batch ``bid`` on ``pipe`` (five replies, for :func:`parse`)."""
    pipe.hgetall(layout.batch(bid))
    pipe.scard(layout.batch_jids(bid))
    pipe.smembers(layout.batch_failed(bid))
    pipe.smembers(layout.batch_died(bid))
    pipe.smembers(layout.batch_kids(bid))


def read(client: redis.Redis, bid: str) -> Snapshot | None:
    """One batch's snapshot in one round trip, or ``None`` if it does not exist (any more)."""
    layout = keys.layout_of(client)
    pipe = client.pipeline(transaction=not layout.cluster)  # one slot, one node in a cluster
    queue_read(pipe, bid, layout)
    return parse(bid, *pipe.execute())


async def aread(client: aredis.Redis, bid: str) -> Snapshot | None:
    """Asyncio twin of :func:`read`."""
    layout = keys.layout_of(client)
    pipe = client.pipeline(transaction=not layout.cluster)
    queue_read(pipe, bid, layout)
    return parse(bid, *(await pipe.execute()))


def client_for(client: redis.Redis | None, app: Henchman | None) -> redis.Redis:
    """``client``, else the sync client of ``app`` (default: the default app)."""
    if client is not None:
        return client
    if app is None:
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
        self._client = client_for(client, app)
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
