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

from collections.abc import Iterator
from typing import TYPE_CHECKING

import redis

from henchman import keys
from henchman.api._common import text
from henchman.batches.model import Snapshot, parse
from henchman.batches.status import BatchStatus, client_for, queue_read

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["BatchSet", "BatchStatus"]


class BatchSet:
    """Every batch, newest first (the ``batches`` index; entries whose data expired are
    dropped from it as they are met)."""

    def __init__(self, client: redis.Redis | None = None, *, app: Henchman | None = None) -> None:
        self._client = client_for(client, app)
        self._layout = keys.layout_of(self._client)

    @property
    def size(self) -> int:
        """Batches in the index (some may have expired and not been met yet)."""
        return int(self._client.zcard(self._layout.BATCHES))

    def page(self, offset: int = 0, limit: int = 25) -> list[Snapshot]:
        """Up to ``limit`` batches from position ``offset``, newest first."""
        bids = self._client.zrevrange(self._layout.BATCHES, offset, offset + max(limit, 1) - 1)
        return self._read_many([text(b) for b in bids])

    def _read_many(self, bids: list[str]) -> list[Snapshot]:
        if not bids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for bid in bids:
            queue_read(pipe, bid, self._layout)
        replies = pipe.execute()
        found, gone = [], []
        for index, bid in enumerate(bids):
            snap = parse(bid, *replies[index * 5 : index * 5 + 5])
            if snap is None:
                gone.append(bid)
            else:
                found.append(snap)
        if gone:
            self._client.zrem(self._layout.BATCHES, *gone)
        return found

    def __iter__(self) -> Iterator[Snapshot]:
        bids = [text(b) for b in self._client.zrevrange(self._layout.BATCHES, 0, -1)]
        for start in range(0, len(bids), 100):
            yield from self._read_many(bids[start : start + 100])
