"""Riding out Redis outages (SPEC §6.4): backoff between attempts and one log line per outage."""

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
    """Logs the start and end of an outage once, however many threads notice it."""

    def __init__(self) -> None:
        self._down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Whether an outage is in progress."""
        return self._down_since is not None

    def failed(self, exc: BaseException) -> None:
        """Note a failed Redis call."""
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning(
                    "Redis unavailable (%s: %s); retrying with backoff", type(exc).__name__, exc
                )

    def succeeded(self) -> None:
        """Note a successful Redis call."""
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is not None:
                log.warning("Redis is back after %.1f s", time.monotonic() - self._down_since)
                self._down_since = None


def backoff_delay(attempt: int, cap: float = 5.0) -> float:
    """Delay before retry ``attempt`` (from 0): 0.1 s doubling up to ``cap``."""
    return float(min(cap, 0.1 * 2.0**attempt))


def call_until_done(
    fn: Callable[[], T],
    outages: OutageLog,
    give_up: Callable[[], bool],
    sleep: Callable[[float], object] = time.sleep,
) -> T | None:
    """Call ``fn`` until it succeeds, backing off on transient errors; ``None`` if ``give_up()``
    turns true first (the caller's data then stays where Redis had it, e.g. a working list)."""
    attempt = 0
    while True:
        try:
            result = fn()
        except TRANSIENT as exc:
            outages.failed(exc)
            if give_up():
                return None
            sleep(backoff_delay(attempt))
            attempt += 1
            continue
        outages.succeeded()
        return result


async def acall_until_done(
    fn: Callable[[], Awaitable[T]], outages: OutageLog, give_up: Callable[[], bool]
) -> T | None:
    """Asyncio twin of :func:`call_until_done` (same backoff, same give-up rule)."""
    attempt = 0
    while True:
        try:
            result = await fn()
        except TRANSIENT as exc:
            outages.failed(exc)
            if give_up():
                return None
            await asyncio.sleep(backoff_delay(attempt))
            attempt += 1
            continue
        outages.succeeded()
        return result
