"""Per-job-class execution metrics: queries over what the metrics middleware
(:mod:`henchman.middleware.metrics`) and Ruby Sidekiq 8 write.

Layout (Sidekiq 8's, so each side reads the other's history; key names in :mod:`henchman.keys`):

- ``j|YYMMDD|H:MM``: HASH per UTC minute with ``<class>|p`` (executions, failures included),
  ``<class>|f`` (failures) and ``<class>|ms`` (milliseconds spent in executions that did not
  fail); kept 8 hours.
- ``j|YYMMDD|H:M``: the same fields per UTC ten minutes, kept 72 hours. The rollup is written at
  flush time (every flush increments both keys), as Sidekiq 8 does, so queries never sum minutes.
- ``h|<class>-D-H:M``: per class and minute, 26 saturating u16 counters (BITFIELD), a histogram
  of successful execution times over Sidekiq's fixed log-scale buckets; kept 8 hours.

Queries of up to 8 hours read minute keys; longer ones (up to 72 hours) read ten-minute keys and
have no histogram. Each query is one pipelined round trip (two for a class with its histogram).
Sidekiq 7's metrics (``j|YYYYMMDD|H:M`` minute keys, histograms without the ``h|`` prefix) are
not read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from henchman import keys
from henchman.api._common import count, text
from henchman.metrics_layout import (
    BUCKET_LABELS,
    BUCKET_LIMITS_MS,
    BUCKETS,
    MINUTE_TTL,
    TEN_MINUTE_TTL,
    bucket_index,
)

__all__ = [
    "BUCKET_LABELS",
    "BUCKET_LIMITS_MS",
    "ClassMetrics",
    "JobMetrics",
    "MetricsQuery",
    "TopJobs",
    "bucket_index",
]

MAX_MINUTES = MINUTE_TTL // 60
MAX_HOURS = TEN_MINUTE_TTL // 3600

_HISTOGRAM_FETCH: list[str] = [
    part for index in range(BUCKETS) for part in ("GET", "u16", f"#{index}")
]


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """One job class's totals over a period."""

    job_class: str
    processed: int = 0
    failed: int = 0
    ms: int = 0

    @property
    def succeeded(self) -> int:
        """Executions that did not fail."""
        return max(self.processed - self.failed, 0)

    @property
    def seconds(self) -> float:
        """Total seconds spent in successful executions."""
        return self.ms / 1000.0

    @property
    def average_ms(self) -> float:
        """Mean milliseconds of a successful execution (0.0 when there was none)."""
        return self.ms / self.succeeded if self.succeeded else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "class": self.job_class, "processed": self.processed, "failed": self.failed,
            "ms": self.ms, "average_ms": self.average_ms,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class TopJobs:
    """Job classes by total time over a period, most time first.

    ``buckets`` are the start times (epoch seconds, oldest first) of the minutes or ten-minute
    spans read; ``series[class]`` holds one ``(processed, failed, ms)`` per bucket.
    """

    step: int
    buckets: list[float]
    jobs: list[ClassMetrics]
    series: dict[str, list[tuple[int, int, int]]]
    marks: list[tuple[float, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobMetrics:
    """One class over a period: totals, a timeline and (for minute periods) the histogram.

    ``histogram`` sums the period's per-minute histograms (26 counts, :data:`BUCKET_LABELS`);
    empty for periods read from ten-minute keys, which keep no histogram.
    """

    totals: ClassMetrics
    step: int
    buckets: list[float]
    timeline: list[tuple[int, int, int]]
    histogram: list[int]
    marks: list[tuple[float, str]] = field(default_factory=list)


class MetricsQuery:
    """Reads the metrics keys. Cheap to create; every call reads Redis."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        layout: keys.KeyLayout | None = None,
    ) -> None:
        self._redis = client
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)
        self._clock = clock

    def top_jobs(
        self, *, minutes: int | None = None, hours: int | None = None, limit: int | None = None
    ) -> TopJobs:
        """Every class seen in the last ``minutes`` (1-480, default 60) or ``hours`` (1-72),
        sorted by total time, then executions; at most ``limit`` classes if given."""
        step, starts = self._window(minutes, hours)
        pipe = self._redis.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(_bucket_key(step, start, self.layout))
        series: dict[str, list[list[int]]] = {}
        for index, reply in enumerate(pipe.execute()):
            for raw_field, value in reply.items():
                job_class, _, metric = text(raw_field).rpartition("|")
                slot = _METRIC_SLOTS.get(metric)
                if slot is None or not job_class:
                    continue
                rows = series.setdefault(job_class, [[0, 0, 0] for _ in starts])
                rows[index][slot] += count(value)
        totals = [_totals(job_class, rows) for job_class, rows in series.items()]
        totals.sort(key=lambda c: (-c.ms, -c.processed, c.job_class))
        if limit is not None:
            totals = totals[:limit]
        kept = {c.job_class for c in totals}
        return TopJobs(
            step=step,
            buckets=starts,
            jobs=totals,
            series={k: [(p, f, ms) for p, f, ms in v] for k, v in series.items() if k in kept},
            marks=self._marks(starts[0], starts[-1] + step),
        )

    def for_job(
        self, job_class: str, *, minutes: int | None = None, hours: int | None = None
    ) -> JobMetrics:
        """``job_class`` over the last ``minutes`` (1-480, default 60) or ``hours`` (1-72)."""
        step, starts = self._window(minutes, hours)
        fields = [f"{job_class}|p", f"{job_class}|f", f"{job_class}|ms"]
        pipe: Any = self._redis.pipeline(transaction=False)
        for start in starts:
            pipe.hmget(_bucket_key(step, start, self.layout), fields)
        if step == 60:
            for start in starts:
                pipe.execute_command(
                    "BITFIELD_RO",
                    self.layout.metrics_histogram(job_class, start),
                    *_HISTOGRAM_FETCH,
                )
        replies = pipe.execute()
        timeline = [(count(p), count(f), count(ms)) for p, f, ms in replies[: len(starts)]]
        histogram = [0] * BUCKETS if step == 60 else []
        for reply in replies[len(starts) :]:
            for index, value in enumerate(reply or ()):
                histogram[index] += count(value)
        return JobMetrics(
            totals=_totals(job_class, [list(row) for row in timeline]),
            step=step,
            buckets=starts,
            timeline=timeline,
            histogram=histogram,
            marks=self._marks(starts[0], starts[-1] + step),
        )

    def _window(self, minutes: int | None, hours: int | None) -> tuple[int, list[float]]:
        """(step seconds, bucket start times oldest first) for a query."""
        if minutes is not None and hours is not None:
            raise ValueError("give minutes or hours, not both")
        if hours is not None:
            if not 1 <= hours <= MAX_HOURS:
                raise ValueError(f"hours must be between 1 and {MAX_HOURS}, got {hours}")
            step, buckets = 600, hours * 6
        else:
            minutes = 60 if minutes is None else minutes
            if not 1 <= minutes <= MAX_MINUTES:
                raise ValueError(f"minutes must be between 1 and {MAX_MINUTES}, got {minutes}")
            step, buckets = 60, minutes
        last = float(int(self._clock()) // step * step)
        return step, [last - step * i for i in range(buckets - 1, -1, -1)]

    def _marks(self, start: float, end: float) -> list[tuple[float, str]]:
        """Deploy marks (Sidekiq's ``<YYYYMMDD>-marks``) between ``start`` and ``end``."""
        days = sorted({time.strftime("%Y%m%d", time.gmtime(t)) for t in (start, end)})
        pipe = self._redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.layout.metrics_marks(day))
        found: list[tuple[float, str]] = []
        for reply in pipe.execute():
            for raw_when, label in reply.items():
                when = _parse_iso(text(raw_when))
                if when is not None and start <= when < end:
                    found.append((when, text(label)))
        return sorted(found)


_METRIC_SLOTS = {"p": 0, "f": 1, "ms": 2}


def _bucket_key(step: int, start: float, layout: keys.KeyLayout) -> str:
    return layout.metrics_minute(start) if step == 60 else layout.metrics_ten_minutes(start)


def _totals(job_class: str, rows: list[list[int]]) -> ClassMetrics:
    return ClassMetrics(
        job_class,
        processed=sum(r[0] for r in rows),
        failed=sum(r[1] for r in rows),
        ms=sum(r[2] for r in rows),
    )


def _parse_iso(value: str) -> float | None:
    """Epoch seconds of an ISO 8601 time as Ruby's ``Time#iso8601`` writes it, else None."""
    import datetime

    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()
