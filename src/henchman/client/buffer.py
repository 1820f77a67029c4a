"""Reliable push (SPEC §6.3): keep pushes in memory while Redis is unreachable.

Guarantees:

* A push either reaches Redis, or sits in this bounded buffer, or raises
  :class:`~henchman.errors.PushBufferFull` — it is never silently lost.
* Order is kept: while anything is buffered, new pushes queue behind it.
* Delivery is retried on the next push and by a background thread (backoff up to
  ``max_backoff``), and once more at interpreter exit; whatever still cannot be delivered then
  is logged with its jid so it can be replayed by hand.

The buffer lives in process memory: a process that dies while Redis is down loses its buffer.
That is the documented limit (docs/reliability.md).
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
from collections.abc import Callable, Sequence

import redis

from henchman.client.plan import PushPlan
from henchman.errors import PushBufferFull

log = logging.getLogger("henchman.client")

Writer = Callable[[Sequence[PushPlan]], None]

#: Errors that mean "Redis is not taking writes right now" rather than "this push is wrong".
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, OSError)


class PushBuffer:
    """A bounded FIFO of pushes waiting for Redis, with a background retry."""

    def __init__(
        self, capacity: int = 1000, *, retry_interval: float = 0.5, max_backoff: float = 5.0
    ) -> None:
        self.capacity = capacity
        self._items: collections.deque[PushPlan] = collections.deque()
        self._lock = threading.RLock()
        self._retry_interval = retry_interval
        self._max_backoff = max_backoff
        self._writer: Writer | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._atexit_registered = False

    def __len__(self) -> int:
        return len(self._items)

    def write(self, plans: Sequence[PushPlan], writer: Writer) -> None:
        """Deliver ``plans`` through ``writer``, or buffer them if Redis is unavailable."""
        with self._lock:
            if self._items and not self._flush_locked(writer):
                self._append(plans, writer)
                return
            try:
                writer(plans)
            except UNAVAILABLE as exc:
                log.warning("Redis unavailable (%s); buffering %d push(es)", exc, len(plans))
                self._append(plans, writer)

    def enqueue(self, plans: Sequence[PushPlan], writer: Writer) -> None:
        """Buffer ``plans`` without trying Redis now (for callers that must not block, such as
        the asyncio client); the background thread delivers them with ``writer``."""
        with self._lock:
            self._append(plans, writer)

    def flush(self, writer: Writer | None = None) -> bool:
        """Try to deliver everything buffered, in order; return whether the buffer is empty."""
        with self._lock:
            chosen = writer or self._writer
            return chosen is None or self._flush_locked(chosen)

    def _flush_locked(self, writer: Writer) -> bool:
        while self._items:
            chunk = [self._items[i] for i in range(min(len(self._items), 500))]
            try:
                writer(chunk)
            except UNAVAILABLE:
                return False
            for _ in chunk:
                self._items.popleft()
            log.info("delivered %d buffered push(es); %d left", len(chunk), len(self._items))
        return True

    def _append(self, plans: Sequence[PushPlan], writer: Writer) -> None:
        if len(self._items) + len(plans) > self.capacity:
            raise PushBufferFull(
                f"reliable-push buffer is full ({len(self._items)}/{self.capacity} jobs waiting "
                "for Redis); this push was not stored"
            )
        self._items.extend(plans)
        self._writer = writer
        self._start_retry()

    def _start_retry(self) -> None:
        if not self._atexit_registered:
            atexit.register(self._final_flush)
            self._atexit_registered = True
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._retry_loop, name="henchman-push-retry", daemon=True
            )
            self._thread.start()

    def _retry_loop(self) -> None:
        delay = self._retry_interval
        while self._items:
            self._wake.wait(delay)
            if self.flush():
                return
            delay = min(delay * 2, self._max_backoff)

    def _final_flush(self) -> None:
        if not self._items or self.flush():
            return
        for plan in self._items:
            log.error(
                "push of job %s to queue %r could not be delivered: Redis unreachable",
                plan.jid,
                plan.queue,
            )
