"""An iterable job's saved state and the decisions taken before each item.

The state lives in the hash ``it-<jid>`` in Sidekiq 7.3's layout, so Ruby Sidekiq's tools read
henchman's and the other way round:

=============  ===============================================================================
``ex``         executions: how many runs have started (integer)
``c``          cursor of the next unprocessed item, as JSON (``null`` = from the beginning)
``rt``         cumulative runtime of all runs in seconds (float)
``cancelled``  epoch seconds (integer) at which :func:`henchman.cancel` was called, if it was
=============  ===============================================================================

It is written at the start of every run, at most every :data:`FLUSH_INTERVAL` seconds while
items are processed, on interruption and on error; each write refreshes a 30-day TTL and reads
``cancelled`` back in the same transaction (which is how a cancellation is seen). It is deleted
when the job completes or is cancelled.

Everything here is pure except the thin ``load``/``flush``/``delete`` shells at the end, whose
sync and asyncio twins queue the same commands (:func:`queue_flush` ...) on a pipeline.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import redis
import redis.asyncio as aredis

from henchman import keys

#: Seconds between two periodic state writes while items are processed (Sidekiq's value).
FLUSH_INTERVAL = 5.0
#: Seconds the state (and the progress keys) live after their last write: as long as a job may
#: sit in the retry set.
STATE_TTL = 30 * 24 * 3600


@dataclass(slots=True)
class Checkpoint:
    """An iterable job's state as stored in ``it-<jid>``."""

    executions: int = 0
    cursor: Any = None
    runtime: float = 0.0
    cancelled: int | None = None

    def encode(self) -> dict[str, str]:
        """The hash fields written by a flush (``cancelled`` is only ever written by a cancel).

        Raises ``TypeError`` naming the cursor if it is not JSON-native.
        """
        try:
            cursor = orjson.dumps(self.cursor).decode()
        except TypeError:
            raise TypeError(
                f"iteration cursor {self.cursor!r} is not JSON-serializable: build_enumerator "
                "must yield cursors made of str, int, float, bool, None, list and dict"
            ) from None
        return {"ex": str(self.executions), "c": cursor, "rt": repr(float(self.runtime))}


def decode(fields: Mapping[Any, Any]) -> Checkpoint:
    """A :class:`Checkpoint` from an ``HGETALL`` reply; missing or unreadable fields read as the
    defaults (a hash holding only ``cancelled`` is a job cancelled before it ever ran)."""
    found = {_text(k): _text(v) for k, v in fields.items()}
    checkpoint = Checkpoint()
    checkpoint.executions = _number(found.get("ex"), int, 0)
    checkpoint.runtime = _number(found.get("rt"), float, 0.0)
    cancelled = _number(found.get("cancelled"), float, 0.0)
    checkpoint.cancelled = int(cancelled) if cancelled else None
    raw = found.get("c")
    if raw:
        try:
            checkpoint.cursor = orjson.loads(raw)
        except orjson.JSONDecodeError:
            checkpoint.cursor = None
    return checkpoint


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


N = TypeVar("N", int, float)


def _number(value: str | None, kind: type[N], default: N) -> N:
    if value is None:
        return default
    try:
        return kind(float(value))
    except (TypeError, ValueError):
        return default


class Interruption(enum.Enum):
    """Why a run stops before its next item."""

    STOPPING = "stopping"  #: the process is shutting down (TERM)
    QUIETING = "quieting"  #: the process stopped fetching (TSTP)
    RUNTIME = "max_iteration_runtime"  #: this run has used its time budget

    @property
    def at_head(self) -> bool:
        """Whether the job goes back to the head of its queue: a job interrupted by a shutdown
        continues first; one that used its time budget lets the jobs behind it run."""
        return self is not Interruption.RUNTIME


@dataclass(slots=True)
class RunClock:
    """The time bookkeeping of one run (monotonic seconds): when to flush, when to stop."""

    started: float
    prior_runtime: float = 0.0
    max_runtime: float | None = None
    last_flush: float = 0.0
    flush_interval: float = FLUSH_INTERVAL

    def __post_init__(self) -> None:
        self.last_flush = self.started

    def runtime(self, now: float) -> float:
        """Cumulative runtime of every run so far, this one up to ``now``."""
        return self.prior_runtime + max(now - self.started, 0.0)

    def interruption(self, now: float, *, stopping: bool, quieting: bool) -> Interruption | None:
        """Why this run must stop before the next item, or ``None`` to go on."""
        if stopping:
            return Interruption.STOPPING
        if quieting:
            return Interruption.QUIETING
        if self.max_runtime is not None and now - self.started >= self.max_runtime:
            return Interruption.RUNTIME
        return None

    def flush_due(self, now: float) -> bool:
        """Whether the periodic state write is due."""
        return now - self.last_flush >= self.flush_interval

    def flushed(self, now: float) -> None:
        """Record a state write at ``now``."""
        self.last_flush = now


# --- Redis I/O: the same commands for both shells ------------------------------------------


def queue_flush(
    pipe: Any, jid: str, checkpoint: Checkpoint, layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Queue a state write: fields, TTL refresh, and the ``cancelled`` read-back."""
    key = layout.iteration_state(jid)
    pipe.hset(key, mapping=checkpoint.encode())
    pipe.expire(key, STATE_TTL)
    pipe.hget(key, "cancelled")


def flush_cancelled(replies: Sequence[Any]) -> bool:
    """Whether the job was cancelled, from the replies of :func:`queue_flush`."""
    return bool(replies[-1])


def load(client: redis.Redis, jid: str, layout: keys.KeyLayout = keys.SIDEKIQ) -> Checkpoint:
    """Read a job's state (defaults if it has none)."""
    return decode(client.hgetall(layout.iteration_state(jid)))


async def aload(
    client: aredis.Redis, jid: str, layout: keys.KeyLayout = keys.SIDEKIQ
) -> Checkpoint:
    """Asyncio twin of :func:`load`."""
    return decode(await client.hgetall(layout.iteration_state(jid)))


def flush(
    client: redis.Redis, jid: str, checkpoint: Checkpoint, layout: keys.KeyLayout = keys.SIDEKIQ
) -> bool:
    """Write a job's state in one transaction; return whether it has been cancelled."""
    pipe = client.pipeline(transaction=True)
    queue_flush(pipe, jid, checkpoint, layout)
    return flush_cancelled(pipe.execute())


async def aflush(
    client: aredis.Redis, jid: str, checkpoint: Checkpoint, layout: keys.KeyLayout = keys.SIDEKIQ
) -> bool:
    """Asyncio twin of :func:`flush`."""
    pipe = client.pipeline(transaction=True)
    queue_flush(pipe, jid, checkpoint, layout)
    return flush_cancelled(await pipe.execute())


def queue_cleanup(
    pipe: Any, jid: str, keep_ledger_for: float, layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Queue the end of a job's iteration data (completed or cancelled): state, processed-id set
    and file manifest go; the row ledger stays ``keep_ledger_for`` seconds (0: goes too) so the
    outcome of an import can still be read."""
    pipe.unlink(
        layout.iteration_state(jid), layout.iteration_done_ids(jid), layout.iteration_files(jid)
    )
    ledger = (layout.iteration_rows(jid), layout.iteration_row_errors(jid))
    if keep_ledger_for > 0:
        for key in ledger:
            pipe.expire(key, max(int(keep_ledger_for), 1))
    else:
        pipe.unlink(*ledger)


def cleanup(
    client: redis.Redis, jid: str, keep_ledger_for: float, layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Run :func:`queue_cleanup` in one transaction."""
    pipe = client.pipeline(transaction=True)
    queue_cleanup(pipe, jid, keep_ledger_for, layout)
    pipe.execute()


async def acleanup(
    client: aredis.Redis, jid: str, keep_ledger_for: float, layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Asyncio twin of :func:`cleanup`."""
    pipe = client.pipeline(transaction=True)
    queue_cleanup(pipe, jid, keep_ledger_for, layout)
    await pipe.execute()


def queue_reset_progress(pipe: Any, jid: str, layout: keys.KeyLayout = keys.SIDEKIQ) -> None:
    """Queue the removal of a job's progress (done ids, ledger, file manifest): it is starting
    over because its offloaded files are gone."""
    pipe.unlink(
        layout.iteration_done_ids(jid),
        layout.iteration_rows(jid),
        layout.iteration_row_errors(jid),
        layout.iteration_files(jid),
    )


def reset_progress(client: redis.Redis, jid: str, layout: keys.KeyLayout = keys.SIDEKIQ) -> None:
    """Run :func:`queue_reset_progress`."""
    pipe = client.pipeline(transaction=True)
    queue_reset_progress(pipe, jid, layout)
    pipe.execute()


async def areset_progress(
    client: aredis.Redis, jid: str, layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Asyncio twin of :func:`reset_progress`."""
    pipe = client.pipeline(transaction=True)
    queue_reset_progress(pipe, jid, layout)
    await pipe.execute()
