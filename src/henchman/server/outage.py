"""Riding out Redis outages: backoff between attempts and one log line per outage.

An outage is logged once when the first call fails ("Redis unavailable") and once when it ends
("Redis is back"). Only a Redis call that *began after* the outage was noticed can end it: a call
that was already on the wire when Redis hung may succeed a moment after another thread saw a
timeout, and a background step that had nothing to send proves nothing about Redis; either would
log a false "back" and then a second "unavailable" for the same outage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis

log = logging.getLogger("henchman")

T = TypeVar("T")

#: Errors after which the same call may succeed later (restart, failover, dropped connection).
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, OSError)


class OutageLog:
    """Logs the start and end of an outage once, however many threads notice it.

    Callers pass when their call began (:meth:`now`): a call that began before the outage was
    noticed cannot end it, and a call that began before the outage ended cannot start a new one
    (its timeout may fire just after Redis answered again).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down_since: float | None = None
        self._up_since = float("-inf")
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Whether an outage is in progress."""
        return self._down_since is not None

    def now(self) -> float:
        """The clock that ``started`` is read on (monotonic seconds)."""
        return self._clock()

    def failed(self, exc: BaseException, started: float | None = None) -> None:
        """Note a failed Redis call (that began at ``started``, if known)."""
        with self._lock:
            if self._down_since is not None:
                return
            if started is not None and started < self._up_since:
                return  # sent during the outage that just ended: part of it
            self._down_since = self._clock()
            log.warning(
                "Redis unavailable (%s: %s); retrying with backoff", type(exc).__name__, exc
            )

    def succeeded(self, started: float) -> None:
        """Note a Redis call that began at ``started`` and succeeded. It ends the outage only if
        it began after the outage was noticed."""
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is not None and started >= self._down_since:
                now = self._clock()
                log.warning("Redis is back after %.1f s", now - self._down_since)
                self._down_since = None
                self._up_since = now


def backoff_delay(attempt: int, cap: float = 5.0) -> float:
    """Delay before retry ``attempt`` (from 0): 0.1 s doubling up to ``cap``."""
    return float(min(cap, 0.1 * 2.0**attempt))


def call_until_done(
    fn: Callable[[], T],
    outages: OutageLog,
    give_up: Callable[[], bool],
    sleep: Callable[[float], object] = time.sleep,
    *,
    proves: bool = True,
) -> T | None:
    """Call ``fn`` until it succeeds, backing off on transient errors; ``None`` if ``give_up()``
    turns true first (the caller's data then stays where Redis had it, e.g. a working list).
    ``proves=False`` for an ``fn`` that may have nothing to send: its success ends no outage."""
    attempt = 0
    while True:
        started = outages.now()
        try:
            result = fn()
        except TRANSIENT as exc:
            outages.failed(exc, started)
            if give_up():
                return None
            sleep(backoff_delay(attempt))
            attempt += 1
            continue
        if proves:
            outages.succeeded(started)
        return result


async def acall_until_done(
    fn: Callable[[], Awaitable[T]], outages: OutageLog, give_up: Callable[[], bool]
) -> T | None:
    """Asyncio twin of :func:`call_until_done` (same backoff, same give-up rule)."""
    attempt = 0
    while True:
        started = outages.now()
        try:
            result = await fn()
        except TRANSIENT as exc:
            outages.failed(exc, started)
            if give_up():
                return None
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1
            continue
        outages.succeeded(started)
        return result
