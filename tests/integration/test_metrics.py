"""Metrics written by the middleware land in Sidekiq 8's layout and read back through the API
; data Sidekiq 8 wrote reads the same way."""

from __future__ import annotations

import pytest

from henchman import keys
from henchman.api import MetricsQuery
from henchman.context import JobContext
from henchman.middleware.chain import Chain, JobRun
from henchman.middleware.metrics import Metrics
from tests.conftest import RedisDB

NOW = 1_739_522_600.0  # 2025-02-14 08:43:20 UTC


def run_of(job_class: str) -> JobRun:
    return JobRun(JobContext({"class": job_class, "jid": "a" * 24, "args": []}, "default"))


def record(metrics: Metrics, job_class: str, ok: int, failed: int) -> None:
    chain = Chain([metrics])
    for _ in range(ok):
        chain.invoke(run_of(job_class), lambda: None)
    for _ in range(failed):
        with pytest.raises(RuntimeError):
            chain.invoke(run_of(job_class), _fail)


def _fail() -> None:
    raise RuntimeError("x")


def test_flush_writes_sidekiq8_keys_with_ttls(redis_db: RedisDB) -> None:
    client = redis_db.client
    metrics = Metrics(clock=lambda: NOW)
    record(metrics, "HardJob", ok=3, failed=1)
    assert metrics.flush(client) == 1
    minute = client.hgetall("j|250214|8:43")
    assert minute[b"HardJob|p"] == b"4"
    assert minute[b"HardJob|f"] == b"1"
    assert int(minute[b"HardJob|ms"]) >= 0
    assert client.hgetall("j|250214|8:4") == minute  # the ten-minute rollup
    assert 8 * 3600 - 5 < client.ttl("j|250214|8:43") <= 8 * 3600
    assert 72 * 3600 - 5 < client.ttl("j|250214|8:4") <= 72 * 3600
    counts = client.execute_command("BITFIELD_RO", "h|HardJob-14-8:43", "GET", "u16", "#0")
    assert counts == [3]
    assert metrics.pending() == 0
    assert metrics.flush(client) == 0


def test_flushes_add_up(redis_db: RedisDB) -> None:
    metrics = Metrics(clock=lambda: NOW)
    for _ in range(2):
        record(metrics, "HardJob", ok=2, failed=0)
        metrics.flush(redis_db.client)
    assert redis_db.client.hget(keys.metrics_minute(NOW), "HardJob|p") == b"4"


def test_query_reads_what_the_middleware_wrote(redis_db: RedisDB) -> None:
    metrics = Metrics(clock=lambda: NOW)
    record(metrics, "HardJob", ok=5, failed=2)
    record(metrics, "Mailer", ok=1, failed=0)
    metrics.flush(redis_db.client)
    query = MetricsQuery(redis_db.client, clock=lambda: NOW + 30)
    top = query.top_jobs(minutes=60)
    assert {c.job_class for c in top.jobs} == {"HardJob", "Mailer"}
    hard = next(c for c in top.jobs if c.job_class == "HardJob")
    assert (hard.processed, hard.failed, hard.succeeded) == (7, 2, 5)
    assert len(top.buckets) == 60
    assert top.buckets[-1] == NOW // 60 * 60
    assert top.series["HardJob"][-1][:2] == (7, 2)
    one = query.for_job("HardJob", minutes=10)
    assert one.totals.processed == 7
    assert sum(one.histogram) == 5
    assert one.timeline[-1][:2] == (7, 2)


def test_query_reads_sidekiq8_data(redis_db: RedisDB) -> None:
    client = redis_db.client
    client.hset("j|250214|8:42", mapping={"RubyJob|p": 10, "RubyJob|f": 2, "RubyJob|ms": 4000})
    client.hset("j|250214|8:4", mapping={"RubyJob|p": 10, "RubyJob|f": 2, "RubyJob|ms": 4000})
    client.execute_command("BITFIELD", "h|RubyJob-14-8:42", "INCRBY", "u16", "#8", 8)
    client.hset("20250214-marks", "2025-02-14T08:30:00Z", "deploy 1234")
    query = MetricsQuery(client, clock=lambda: NOW)
    job = query.for_job("RubyJob", minutes=60)
    assert (job.totals.processed, job.totals.failed, job.totals.ms) == (10, 2, 4000)
    assert job.totals.average_ms == 500.0
    assert job.histogram[8] == 8
    assert job.marks == [(1_739_521_800.0, "deploy 1234")]
    day = query.top_jobs(hours=24)
    assert day.step == 600
    assert len(day.buckets) == 144
    assert day.jobs[0].processed == 10


def test_query_limits(redis_db: RedisDB) -> None:
    query = MetricsQuery(redis_db.client, clock=lambda: NOW)
    with pytest.raises(ValueError, match="minutes"):
        query.top_jobs(minutes=481)
    with pytest.raises(ValueError, match="hours"):
        query.top_jobs(hours=73)
    with pytest.raises(ValueError, match="not both"):
        query.for_job("X", minutes=5, hours=1)


def test_worker_writes_metrics_on_heartbeat(app: object, redis_db: RedisDB) -> None:
    from henchman.app import Henchman

    assert isinstance(app, Henchman)
    assert "metrics" in app.middleware.names()
