"""Per-job-class execution metrics, in Sidekiq 8's layout (see
:mod:`henchman.api.metrics` for the keys and how they are read; the shared constants are in
:mod:`henchman.metrics_layout`).

The job path pays for two clock reads, a bisect and one dict update under a lock: no Redis. The
launcher calls :meth:`Metrics.flush` once per heartbeat and at stop, which writes everything
gathered since the last flush in one MULTI/EXEC pipeline (so a failed flush wrote nothing, and
its counts are kept for the next one). Like Sidekiq's tracker:

- an execution counts in ``p``; one that raised also counts in ``f``; only executions that did
  not raise add their time to ``ms`` and to the histogram (failures have unpredictable times);
- the class is the payload's ``wrapped`` (ActiveJob) or ``class``;
- minute buckets are the UTC minute the execution *ended*, and each flush increments both the
  minute and the ten-minute keys (the rollup happens at flush time, not at query time).

A process killed before its next beat loses at most one heartbeat of metrics; jobs are never
affected. If Redis stays unreachable, counts older than the minute keys' lifetime are dropped so
memory stays bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from henchman import keys
from henchman.metrics_layout import (
    BUCKETS,
    HISTOGRAM_TTL,
    MINUTE_TTL,
    TEN_MINUTE_TTL,
    bucket_index,
)
from henchman.middleware.chain import JobRun, Middleware

__all__ = ["Metrics"]

#: One (class, minute) tally: [executions, failures, successful ms (float), histogram or None].
_Tally = list[Any]


class Metrics(Middleware):
    """Records each job's outcome and duration in memory; :meth:`flush` writes them."""

    name = "metrics"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        layout: Callable[[], keys.KeyLayout] = lambda: keys.SIDEKIQ,
    ) -> None:
        self._clock = clock
        #: The app's key layout, read at each flush (the app's settings load lazily).
        self._layout = layout
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], _Tally] = {}

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            result = call_next()
        except BaseException:
            self._record(run.payload, None)
            raise
        self._record(run.payload, time.perf_counter() - started)
        return result

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        try:
            result = await call_next()
        except BaseException:
            self._record(run.payload, None)
            raise
        self._record(run.payload, time.perf_counter() - started)
        return result

    def _record(self, payload: dict[str, Any], elapsed: float | None) -> None:
        """Count one execution; ``elapsed`` is seconds, or None for a failure."""
        job_class = payload.get("wrapped") or payload.get("class")
        if not isinstance(job_class, str) or not job_class:
            return
        key = (job_class, int(self._clock()) // 60)
        ms = 0.0 if elapsed is None else elapsed * 1000.0
        index = bucket_index(ms) if elapsed is not None else 0
        with self._lock:
            tally = self._pending.get(key)
            if tally is None:
                tally = self._pending[key] = [0, 0, 0.0, None]
            tally[0] += 1
            if elapsed is None:
                tally[1] += 1
            else:
                tally[2] += ms
                if tally[3] is None:
                    tally[3] = [0] * BUCKETS
                tally[3][index] += 1

    def pending(self) -> int:
        """(class, minute) tallies waiting for the next flush."""
        with self._lock:
            return len(self._pending)

    def flush(self, client: redis.Redis) -> int:
        """Write every tally gathered since the last flush in one MULTI/EXEC; return how many
        (class, minute) tallies were written. On error the tallies are kept and it re-raises."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            pipe = client.pipeline(transaction=True)
            expiring: dict[str, int] = {}
            layout = self._layout()
            for (job_class, minute), tally in pending.items():
                _write(pipe, job_class, minute * 60, tally, expiring, layout)
            for key, ttl in expiring.items():
                pipe.expire(key, ttl)
            pipe.execute()
        except BaseException:
            self._give_back(pending)
            raise
        return len(pending)

    def _give_back(self, pending: dict[tuple[str, int], _Tally]) -> None:
        """Merge unwritten tallies back, dropping minutes whose keys would have expired."""
        oldest = (int(self._clock()) - MINUTE_TTL) // 60
        with self._lock:
            for key, tally in pending.items():
                if key[1] < oldest:
                    continue
                mine = self._pending.get(key)
                if mine is None:
                    self._pending[key] = tally
                    continue
                mine[0] += tally[0]
                mine[1] += tally[1]
                mine[2] += tally[2]
                if tally[3] is not None:
                    ours = mine[3] or [0] * BUCKETS
                    mine[3] = [a + b for a, b in zip(ours, tally[3], strict=True)]


def _write(
    pipe: Any,
    job_class: str,
    at: float,
    tally: _Tally,
    expiring: dict[str, int],
    layout: keys.KeyLayout = keys.SIDEKIQ,
) -> None:
    """Queue the commands for one (class, minute) tally; keys to expire go in ``expiring``."""
    processed, failed, ms, histogram = tally
    for key, ttl in ((layout.metrics_minute(at), MINUTE_TTL),
                     (layout.metrics_ten_minutes(at), TEN_MINUTE_TTL)):  # fmt: skip
        pipe.hincrby(key, f"{job_class}|p", processed)
        if failed:
            pipe.hincrby(key, f"{job_class}|f", failed)
        if processed > failed:
            pipe.hincrby(key, f"{job_class}|ms", round(ms))
        expiring[key] = ttl
    if histogram is not None:
        key = layout.metrics_histogram(job_class, at)
        increments: list[Any] = []
        for index, value in enumerate(histogram):
            if value:
                increments += ["INCRBY", "u16", f"#{index}", value]
        pipe.execute_command("BITFIELD", key, "OVERFLOW", "SAT", *increments)
        expiring[key] = HISTOGRAM_TTL
