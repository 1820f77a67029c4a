"""Prometheus metrics (the ``henchman[prometheus]`` extra, on ``prometheus_client``).

Two pieces, for the two places Prometheus scrapes:

* :class:`HenchmanCollector` reads the cluster-wide numbers from Redis at scrape time — the same
  counters and sizes as :class:`henchman.api.Stats` (processed, failed, scheduled, retries,
  dead, enqueued, busy, processes), every queue's size, latency and paused flag, and each job
  class's executions, failures, run time and run-time distribution over the last minutes (from
  the metrics the workers already write). ``henchman web`` serves it at ``/metrics.prom``; an app
  registers it in its own registry (``registry.register(HenchmanCollector(client))``).
  A scrape costs a fixed number of pipelined round trips whatever the number of queues (about
  four commands per queue), plus one per job class seen in the last :data:`HISTOGRAM_MINUTES`.
* :class:`JobDurations` is a server middleware that observes every job's run time in this
  process into a real (monotonic) ``Histogram`` labelled by class, queue and outcome — what
  ``rate()`` and ``histogram_quantile()`` need. Add it to a worker's middleware and expose the
  registry it writes to (the worker's health port does when both are configured).

Cluster-wide per-class numbers are windows over Redis data kept for hours, not counters that only
grow, so they are exported as gauges and a gauge histogram (their names end in ``_recent``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import redis

from henchman.api import MetricsQuery, Queue, Stats
from henchman.api.metrics import BUCKET_LIMITS_MS
from henchman.middleware.chain import JobRun, Middleware

if TYPE_CHECKING:
    from henchman.app import Henchman

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Histogram
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeHistogramMetricFamily,
        GaugeMetricFamily,
        Metric,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "henchman's Prometheus integration needs prometheus_client: "
        "pip install 'henchman[prometheus]'"
    ) from exc

__all__ = ["HISTOGRAM_MINUTES", "HenchmanCollector", "JobDurations", "exposition", "worker_routes"]

#: Minutes of per-class history read at each scrape (the ``_recent`` families).
HISTOGRAM_MINUTES = 5
#: Prometheus bucket bounds (seconds): the workers' metric buckets, so no data is re-binned.
BUCKETS_SECONDS: tuple[float, ...] = tuple(limit / 1000 for limit in BUCKET_LIMITS_MS)


class HenchmanCollector:
    """A ``prometheus_client`` collector over one Redis; every scrape reads it afresh."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = "henchman",
        minutes: int = HISTOGRAM_MINUTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._ns = namespace
        self._minutes = minutes
        self._clock = clock

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not read Redis."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The metric families, read now."""
        yield from self._totals()
        yield from self._queues()
        yield from self._classes()

    def _name(self, suffix: str) -> str:
        return f"{self._ns}_{suffix}"

    def _totals(self) -> Iterator[Metric]:
        summary = Stats(self._redis, clock=self._clock).summary()
        counters = (
            ("processed", "Jobs processed (failures included), lifetime.", summary.processed),
            ("failed", "Jobs that failed, lifetime.", summary.failed),
            ("recovered", "Jobs given back by orphan recovery, lifetime.", summary.recovered),
        )
        for suffix, text, value in counters:
            family = CounterMetricFamily(self._name(suffix), text)
            family.add_metric([], value)
            yield family
        gauges = (
            ("scheduled", "Jobs in the schedule.", summary.scheduled_size),
            ("retries", "Jobs waiting for a retry.", summary.retry_size),
            ("dead", "Jobs in the dead set.", summary.dead_size),
            ("enqueued", "Jobs waiting in all queues.", summary.enqueued),
            ("busy", "Jobs running now, across processes.", summary.workers_size),
            ("processes", "Live worker processes.", summary.processes_size),
        )
        for suffix, text, value in gauges:
            yield GaugeMetricFamily(self._name(suffix), text, value=value)

    def _queues(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(self._name("queue_size"), "Jobs waiting.", labels=["queue"])
        latency = GaugeMetricFamily(
            self._name("queue_latency_seconds"),
            "Seconds the oldest job has waited.",
            labels=["queue"],
        )
        paused = GaugeMetricFamily(
            self._name("queue_paused"), "1 while the queue is paused.", labels=["queue"]
        )
        for queue in Queue.summaries(self._redis, clock=self._clock):
            size.add_metric([queue.name], queue.size)
            latency.add_metric([queue.name], round(queue.latency, 3))
            paused.add_metric([queue.name], 1 if queue.paused else 0)
        yield from (size, latency, paused)

    def _classes(self) -> Iterator[Metric]:
        query = MetricsQuery(self._redis, clock=self._clock)
        top = query.top_jobs(minutes=self._minutes)
        labels = ["class"]
        window = f"over the last {self._minutes} minutes"
        runs = GaugeMetricFamily(
            self._name("job_executions_recent"), f"Executions {window}.", labels=labels
        )
        failures = GaugeMetricFamily(
            self._name("job_failures_recent"), f"Failed executions {window}.", labels=labels
        )
        seconds = GaugeMetricFamily(
            self._name("job_seconds_recent"),
            f"Seconds spent in successful executions {window}.",
            labels=labels,
        )
        durations = GaugeHistogramMetricFamily(
            self._name("job_duration_seconds_recent"),
            f"Run time of successful executions {window}.",
            labels=labels,
        )
        for job in top.jobs:
            runs.add_metric([job.job_class], job.processed)
            failures.add_metric([job.job_class], job.failed)
            seconds.add_metric([job.job_class], job.seconds)
            histogram = query.for_job(job.job_class, minutes=self._minutes).histogram
            durations.add_metric([job.job_class], _cumulative(histogram), gsum_value=job.seconds)
        yield from (runs, failures, seconds, durations)


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    """Sidekiq-style per-bucket counts as cumulative ``(le, count)`` pairs ending in ``+Inf``."""
    total = 0
    pairs: list[tuple[str, float]] = []
    for bound, value in zip((*BUCKETS_SECONDS, float("inf")), counts, strict=False):
        total += value
        pairs.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return pairs


class JobDurations(Middleware):
    """Observes each job's run time in this process (``<namespace>_job_duration_seconds``,
    labels ``class``, ``queue``, ``outcome`` = ``success`` or ``failure``)."""

    name = "prometheus"

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "henchman"
    ) -> None:
        self.histogram = Histogram(
            f"{namespace}_job_duration_seconds",
            "Run time of jobs in this worker process.",
            ["class", "queue", "outcome"],
            buckets=(*BUCKETS_SECONDS, float("inf")),
            registry=registry if registry is not None else REGISTRY,
        )

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        outcome = "failure"
        try:
            result = call_next()
            outcome = "success"
            return result
        finally:
            self._observe(run, outcome, time.perf_counter() - started)

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        outcome = "failure"
        try:
            result = await call_next()
            outcome = "success"
            return result
        finally:
            self._observe(run, outcome, time.perf_counter() - started)

    def _observe(self, run: JobRun, outcome: str, seconds: float) -> None:
        job_class = str(run.payload.get("class"))
        self.histogram.labels(job_class, run.queue, outcome).observe(seconds)


def exposition(client: redis.Redis) -> tuple[bytes, str]:
    """(body, content type) of one scrape of :class:`HenchmanCollector` over ``client``, in the
    Prometheus text format: what ``/metrics.prom`` serves."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(HenchmanCollector(client))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_routes(app: Henchman) -> dict[str, Callable[[], tuple[int, Any]]]:
    """The ``/metrics`` route a worker's health port serves: the default registry of
    ``prometheus_client`` (process and runtime metrics) with :class:`JobDurations` added to
    ``app``'s middleware (once) so each job's run time is observed."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from henchman.server.health import Text

    if not any(isinstance(entry, JobDurations) for entry in app.middleware):
        app.middleware.add(JobDurations())

    def metrics() -> tuple[int, Any]:
        return 200, Text(generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

    return {"/metrics": metrics}
