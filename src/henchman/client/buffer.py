"""Reliable push: keep pushes in memory while Redis is unreachable.

Guarantees:

* A push either reaches Redis, or sits in this bounded buffer, or raises
  :class:`~henchman.errors.PushBufferFull` — it is never silently lost.
* Order is kept: while anything is buffered, new pushes queue behind it.
* A push never waits for Redis while anything is buffered (an outage is known): it joins the
  buffer at once and wakes the background delivery. So during an outage only the push that
  discovers it waits, for at most one Redis timeout; every later push returns in microseconds.
* A push whose outcome is unknown (the client timed out waiting for the reply, or the connection
  broke after the command was sent: Redis may still run it, late) is redelivered with
  ``deliver.lua``, which stores a job only if no copy of it is already in its queue, in a worker's
  working list or in the schedule, so it is not stored twice.
* Delivery is retried by a background thread (backoff up to ``max_backoff``; a new push wakes it
  sooner), and once more at interpreter exit; whatever still cannot be delivered then is logged
  with its jid so it can be replayed by hand.

The buffer lives in process memory: a process that dies while Redis is down loses its buffer.
That is the documented limit (docs/reliability.md), as is the one case in which a push with an
unknown outcome can still be stored twice (its job already ran to completion before the
redelivery).
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

import redis

from henchman.client.plan import PushPlan
from henchman.errors import PushBufferFull

log = logging.getLogger("henchman.client")

#: Errors that mean "Redis is not taking writes right now" rather than "this push is wrong".
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, OSError)

#: Most jobs per delivery attempt (a chunk whose attempt fails is redelivered idempotently).
CHUNK = 500


class Writer(Protocol):
    """Stores plans in Redis in one round trip; ``once=True`` stores each job only if no copy of
    it is already queued, being worked on or scheduled (``deliver.lua``)."""

    def __call__(self, plans: Sequence[PushPlan], *, once: bool = False) -> None: ...


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed write may still have reached Redis: a refused connection or a read-only
    reply says it did not; a timeout or a connection lost mid-command leaves it open."""
    if isinstance(exc, redis.ReadOnlyError | ConnectionRefusedError | FileNotFoundError):
        return False
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ConnectionRefusedError | FileNotFoundError):
        return False
    return "connecting" not in str(exc).lower()  # redis-py: "Error 111 connecting to ..."


class PushBuffer:
    """A bounded FIFO of pushes waiting for Redis, with a background retry."""

    def __init__(
        self,
        capacity: int = 1000,
        *,
        retry_interval: float = 0.5,
        max_backoff: float = 5.0,
        clock: collections.abc.Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        #: (plan, outcome of an earlier attempt unknown), oldest first.
        self._items: collections.deque[tuple[PushPlan, bool]] = collections.deque()
        self._lock = threading.RLock()
        #: Held by the one thread delivering buffered pushes (never while holding ``_lock``).
        self._delivering = threading.Lock()
        self._retry_interval = retry_interval
        self._max_backoff = max_backoff
        self._clock = clock
        self._writer: Writer | None = None
        self._wake = threading.Event()
        self._last_attempt = float("-inf")
        self._thread: threading.Thread | None = None
        self._atexit_registered = False

    def __len__(self) -> int:
        return len(self._items)

    def write(self, plans: Sequence[PushPlan], writer: Writer) -> None:
        """Deliver ``plans`` through ``writer``, or buffer them if Redis is unavailable.

        While anything is buffered, ``plans`` join the buffer without trying Redis."""
        if self._items and self._enqueue_if_buffering(plans, writer):
            return
        try:
            writer(plans)
        except UNAVAILABLE as exc:
            log.warning("Redis unavailable (%s); buffering %d push(es)", exc, len(plans))
            with self._lock:
                self._append(plans, writer, uncertain=outcome_unknown(exc))

    def _enqueue_if_buffering(self, plans: Sequence[PushPlan], writer: Writer) -> bool:
        with self._lock:
            if not self._items:
                return False
            self._append(plans, writer, uncertain=False)
        self._nudge()
        return True

    def enqueue(
        self, plans: Sequence[PushPlan], writer: Writer, *, uncertain: bool = False
    ) -> None:
        """Buffer ``plans`` without trying Redis now (for callers that must not block, such as
        the asyncio client); the background thread delivers them with ``writer``.
        ``uncertain``: an attempt to write them failed in a way that may have reached Redis."""
        with self._lock:
            self._append(plans, writer, uncertain=uncertain)
        self._nudge()

    def flush(self, writer: Writer | None = None) -> bool:
        """Try to deliver everything buffered, in order; return whether the buffer is empty."""
        chosen = writer or self._writer
        if chosen is None:
            return True
        with self._delivering:
            return self._deliver(chosen)

    def _deliver(self, writer: Writer) -> bool:
        """Deliver chunk after chunk (the buffer's lock is not held during I/O, so pushes
        never wait for a delivery attempt)."""
        while True:
            with self._lock:
                if not self._items:
                    return True
                chunk = self._next_chunk()
            self._last_attempt = self._clock()
            plans = [plan for plan, _ in chunk]
            try:
                writer(plans, once=chunk[0][1])
            except UNAVAILABLE as exc:
                if outcome_unknown(exc) and not chunk[0][1]:
                    with self._lock:  # this chunk may have reached Redis: redeliver it once
                        for index in range(len(chunk)):
                            self._items[index] = (self._items[index][0], True)
                return False
            with self._lock:
                for _ in chunk:
                    self._items.popleft()
                left = len(self._items)
            log.info("delivered %d buffered push(es); %d left", len(chunk), left)

    def _next_chunk(self) -> list[tuple[PushPlan, bool]]:
        """The oldest items that share one delivery mode (plain, or once each)."""
        first_uncertain = self._items[0][1]
        chunk: list[tuple[PushPlan, bool]] = []
        for item in self._items:
            if item[1] != first_uncertain or len(chunk) == CHUNK:
                break
            chunk.append(item)
        return chunk

    def _append(self, plans: Sequence[PushPlan], writer: Writer, *, uncertain: bool) -> None:
        if len(self._items) + len(plans) > self.capacity:
            raise PushBufferFull(
                f"reliable-push buffer is full ({len(self._items)}/{self.capacity} jobs waiting "
                "for Redis); this push was not stored"
            )
        self._items.extend((plan, uncertain) for plan in plans)
        self._writer = writer
        self._start_retry()

    def _nudge(self) -> None:
        """Let the background thread try again now, unless it tried very recently."""
        if self._clock() - self._last_attempt >= self._retry_interval:
            self._wake.set()

    def _start_retry(self) -> None:
        if not self._atexit_registered:
            atexit.register(self._final_flush)
            self._atexit_registered = True
        if self._thread is None or not self._thread.is_alive():  # under self._lock
            self._thread = threading.Thread(
                target=self._retry_loop, name="henchman-push-retry", daemon=True
            )
            self._thread.start()

    def _retry_loop(self) -> None:
        delay = self._retry_interval
        while True:
            with self._lock:  # _append starts a new thread once this one has left
                if not self._items:
                    self._thread = None
                    return
            self._wake.wait(delay)
            self._wake.clear()
            if self.flush():
                continue
            delay = min(delay * 2, self._max_backoff)

    def _final_flush(self) -> None:
        if not self._items or self.flush():
            return
        for plan, _ in self._items:
            log.error(
                "push of job %s to queue %r could not be delivered: Redis unreachable",
                plan.jid,
                plan.queue,
            )
