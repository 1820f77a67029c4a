"""Progress helpers for iterable jobs, kept in Redis by jid.

Two structures that teams running imports and fan-outs kept building by hand:

- :class:`ProcessedIds` (``self.progress`` in a job): a set of ids already handled, so a job
  that runs an item again (a crash between the item and the next state write) can skip it::

      def each_iteration(self, user):
          if self.progress.is_done(user.id):
              return
          send_welcome(user)
          self.progress.done(user.id)

  It is deleted when the job completes.

- :class:`RowLedger` (``self.ledger``): an import's outcome per row number: processed rows (a
  bitmap, so 1,000,000 rows take 125 KB) and failed rows with their error messages in order.
  Marking a row processed clears an earlier failure of the same row and the other way round, so
  running a row twice leaves one answer. The ledger outlives the job's completion by
  ``IterableJob.keep_ledger_for`` (7 days by default) so its report can still be read.

Both are readable while the job runs, through :class:`henchman.api.IterationState` and
``henchman iteration show JID``. Every write refreshes the keys' TTL (the state TTL, 30 days) in
the same round trip. Each method has an ``a``-prefixed asyncio twin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
import redis.asyncio as aredis

from henchman import keys
from henchman.iteration.state import STATE_TTL

SyncConnection = Callable[[], redis.Redis]
AsyncConnection = Callable[[], aredis.Redis]


def _no_async() -> aredis.Redis:
    raise RuntimeError("this progress helper was made without an asyncio connection")


class ProcessedIds:
    """The set of ids a job has marked done (``done``/``is_done``), by jid."""

    def __init__(
        self,
        jid: str,
        connection: SyncConnection,
        aconnection: AsyncConnection = _no_async,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self.jid = jid
        self.key = layout.iteration_done_ids(jid)
        self._connection = connection
        self._aconnection = aconnection

    def done(self, *ids: str | int) -> None:
        """Mark ``ids`` as handled."""
        if ids:
            pipe = self._connection().pipeline(transaction=False)
            pipe.sadd(self.key, *(str(i) for i in ids))
            pipe.expire(self.key, STATE_TTL)
            pipe.execute()

    def is_done(self, id_: str | int) -> bool:
        """Whether ``id_`` was marked done (by this run or an earlier one)."""
        return bool(self._connection().sismember(self.key, str(id_)))

    def count(self) -> int:
        """How many ids are marked done."""
        return int(self._connection().scard(self.key))

    async def adone(self, *ids: str | int) -> None:
        """Asyncio twin of :meth:`done`."""
        if ids:
            pipe = self._aconnection().pipeline(transaction=False)
            pipe.sadd(self.key, *(str(i) for i in ids))
            pipe.expire(self.key, STATE_TTL)
            await pipe.execute()

    async def ais_done(self, id_: str | int) -> bool:
        """Asyncio twin of :meth:`is_done`."""
        return bool(await self._aconnection().sismember(self.key, str(id_)))

    async def acount(self) -> int:
        """Asyncio twin of :meth:`count`."""
        return int(await self._aconnection().scard(self.key))


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What a row ledger holds: how many rows were processed and which failed, and why."""

    processed: int
    #: Failed row number -> its error messages in the order they were given; by row number.
    failed: dict[int, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (row numbers become string keys)."""
        return {"processed": self.processed, "failed": {str(k): v for k, v in self.failed.items()}}


def rows_from_bitmap(bitmap: bytes | None) -> list[int]:
    """The row numbers whose bit is set in a Redis bitmap (bit 0 = the high bit of byte 0)."""
    rows: list[int] = []
    for index, byte in enumerate(bitmap or b""):
        if byte:
            base = index * 8
            rows.extend(base + bit for bit in range(8) if byte & (0x80 >> bit))
    return rows


def decode_errors(fields: Mapping[Any, Any]) -> dict[int, list[str]]:
    """Failed rows from the ledger's error hash, sorted by row number; unreadable entries skip."""
    failed: dict[int, list[str]] = {}
    for raw_row, raw_messages in fields.items():
        try:
            row = int(raw_row)
            messages = orjson.loads(raw_messages)
        except (TypeError, ValueError):
            continue
        if isinstance(messages, list):
            failed[row] = [str(m) for m in messages]
    return dict(sorted(failed.items()))


class RowLedger:
    """An import's processed and failed rows, by jid."""

    def __init__(
        self,
        jid: str,
        connection: SyncConnection,
        aconnection: AsyncConnection = _no_async,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self.jid = jid
        self.rows_key = layout.iteration_rows(jid)
        self.errors_key = layout.iteration_row_errors(jid)
        self._connection = connection
        self._aconnection = aconnection

    def _queue_processed(self, pipe: Any, rows: Iterable[int]) -> None:
        for row in rows:
            pipe.setbit(self.rows_key, _row(row), 1)
            pipe.hdel(self.errors_key, _row(row))
        self._queue_ttl(pipe)

    def _queue_failed(self, pipe: Any, row: int, messages: Iterable[str]) -> None:
        pipe.setbit(self.rows_key, _row(row), 0)
        pipe.hset(self.errors_key, str(_row(row)), orjson.dumps([str(m) for m in messages]))
        self._queue_ttl(pipe)

    def _queue_ttl(self, pipe: Any) -> None:
        pipe.expire(self.rows_key, STATE_TTL)
        pipe.expire(self.errors_key, STATE_TTL)

    def processed(self, *rows: int) -> None:
        """Mark ``rows`` processed (clearing any earlier failure of them)."""
        pipe = self._connection().pipeline(transaction=True)
        self._queue_processed(pipe, rows)
        pipe.execute()

    def failed(self, row: int, *messages: str) -> None:
        """Mark ``row`` failed with ``messages`` in order (replacing earlier ones for it)."""
        pipe = self._connection().pipeline(transaction=True)
        self._queue_failed(pipe, row, messages)
        pipe.execute()

    def is_processed(self, row: int) -> bool:
        """Whether ``row`` was marked processed."""
        return bool(self._connection().getbit(self.rows_key, _row(row)))

    def report(self) -> LedgerReport:
        """How many rows were processed, and the failed rows with their messages."""
        pipe = self._connection().pipeline(transaction=False)
        pipe.bitcount(self.rows_key)
        pipe.hgetall(self.errors_key)
        processed, errors = pipe.execute()
        return LedgerReport(int(processed), decode_errors(errors))

    def processed_rows(self) -> list[int]:
        """Every processed row number, ascending."""
        bitmap: bytes | None = self._connection().get(self.rows_key)  # type: ignore[assignment]
        return rows_from_bitmap(bitmap)

    async def aprocessed(self, *rows: int) -> None:
        """Asyncio twin of :meth:`processed`."""
        pipe = self._aconnection().pipeline(transaction=True)
        self._queue_processed(pipe, rows)
        await pipe.execute()

    async def afailed(self, row: int, *messages: str) -> None:
        """Asyncio twin of :meth:`failed`."""
        pipe = self._aconnection().pipeline(transaction=True)
        self._queue_failed(pipe, row, messages)
        await pipe.execute()

    async def ais_processed(self, row: int) -> bool:
        """Asyncio twin of :meth:`is_processed`."""
        return bool(await self._aconnection().getbit(self.rows_key, _row(row)))

    async def areport(self) -> LedgerReport:
        """Asyncio twin of :meth:`report`."""
        pipe = self._aconnection().pipeline(transaction=False)
        pipe.bitcount(self.rows_key)
        pipe.hgetall(self.errors_key)
        processed, errors = await pipe.execute()
        return LedgerReport(int(processed), decode_errors(errors))


#: Highest row number a ledger takes: Redis bitmaps end at 2**32 bits.
MAX_ROW = 2**32 - 1


def _row(row: int) -> int:
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row <= MAX_ROW:
        raise ValueError(f"ledger row numbers are integers from 0 to {MAX_ROW}, got {row!r}")
    return row
