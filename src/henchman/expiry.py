"""Expiring jobs: a job that has not started by its expiry time is dropped, not run.

``expires_in`` (seconds or a ``timedelta``) is relative to the time the job is due: the push time,
or the scheduled time for ``perform_in``/``perform_at``. At push time the planner writes the
absolute ``expires_at`` (float epoch seconds) into the payload beside ``expires_in``
(:func:`henchman.push_options.stamp_expiry`), the field Sidekiq Pro's expiring jobs use, so the
decision needs no clock but the worker's.

On the server the :class:`Expiry` middleware (the outermost entry of the chain) checks
``expires_at`` before anything else runs: an expired job is acknowledged without running (it
counts as processed, like any job a middleware skips), logged with its jid, and counted in
``henchman:stat:expired`` (buffered in memory, written with each heartbeat like the metrics).

What "not started" means: the check runs each time the job is fetched. A retry after the expiry
time is dropped; so is a job pushed back by a shutdown or recovered after a crash, since it goes
back exactly as it was. An iterable job that checkpointed and was put back (``RequeueJob``) has
started: its ``expires_at`` is removed so the rest of its items still run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from henchman import keys
from henchman.errors import RequeueJob
from henchman.middleware.chain import JobRun, Middleware
from henchman.push_options import EXPIRES_AT

log = logging.getLogger("henchman")


def expires_at(payload: dict[str, Any]) -> float | None:
    """The job's expiry time, or ``None`` when it never expires (or the field is unreadable)."""
    value = payload.get(EXPIRES_AT)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def is_expired(payload: dict[str, Any], now: float) -> bool:
    """Whether the job should be dropped instead of started at ``now``."""
    at = expires_at(payload)
    return at is not None and now >= at


class Expiry(Middleware):
    """Drops expired jobs before they start; counts and logs each one."""

    name = "expiry"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        layout: Callable[[], keys.KeyLayout] = lambda: keys.SIDEKIQ,
    ) -> None:
        self._clock = clock
        #: The app's key layout, read at each flush (the app's settings load lazily).
        self._layout = layout
        self._lock = threading.Lock()
        self._expired = 0

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        if EXPIRES_AT not in run.payload:  # fast path: most jobs never expire
            return call_next()
        if self._drop(run):
            return None
        try:
            return call_next()
        except RequeueJob as exc:
            _started(run, exc)
            raise

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        if EXPIRES_AT not in run.payload:  # fast path: most jobs never expire
            return await call_next()
        if self._drop(run):
            return None
        try:
            return await call_next()
        except RequeueJob as exc:
            _started(run, exc)
            raise

    def _drop(self, run: JobRun) -> bool:
        now = self._clock()
        if not is_expired(run.payload, now):
            return False
        with self._lock:
            self._expired += 1
        log.info(
            "expired: job %s (%s) in queue %r did not start before %.3f; dropped without running",
            run.context.jid,
            run.payload.get("class"),
            run.queue,
            expires_at(run.payload),
            extra={"jid": run.context.jid, "job_class": run.payload.get("class")},
        )
        return True

    def flush(self, client: redis.Redis) -> None:
        """Add the jobs expired since the last flush to ``henchman:stat:expired``."""
        with self._lock:
            count, self._expired = self._expired, 0
        if not count:
            return
        try:
            client.incrby(self._layout().STAT_EXPIRED, count)
        except BaseException:
            with self._lock:
                self._expired += count
            raise


def _started(run: JobRun, exc: RequeueJob) -> None:
    """The job started and is being put back to continue: it no longer expires."""
    target = exc.payload if exc.payload is not None else run.payload
    target.pop(EXPIRES_AT, None)
    target.pop("expires_in", None)
