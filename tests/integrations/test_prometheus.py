"""Prometheus: the exposition parses with prometheus_client's own parser and its numbers are
henchman.api's, on a real server with real worker-written metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from henchman import keys, payload as wire
from henchman.api import Stats
from henchman.app import Henchman
from henchman.config import QueueSpec
from henchman.integrations.prometheus import HenchmanCollector, JobDurations, exposition
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB


def parsed(body: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted labels -> value} for every sample."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = (
                sample.value
            )
    return samples


def fill(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(queue="mailers", name="mail.Send")
    def send(n: int) -> None:
        if n % 4 == 0:
            raise RuntimeError("smtp down")

    for n in range(1, 13):
        send.perform_async(n)
    settings = app.settings.replace(queues=(QueueSpec("mailers"),))
    with TestWorker(app, settings) as worker:
        worker.wait_until(lambda: redis_db.client.zcard(keys.RETRY) == 3)
        worker.wait_until(lambda: redis_db.client.llen(keys.queue("mailers")) == 0)
    for queue in ("default", "reports"):
        payload = wire.build("x.Job", [1], {"queue": queue, "retry": True}, now=time.time() - 30)
        redis_db.client.sadd(keys.QUEUES, queue)
        redis_db.client.lpush(keys.queue(queue), wire.encode(payload))
    redis_db.client.sadd(keys.PAUSED, "reports")


def test_the_exposition_parses_and_matches_the_api(app: Henchman, redis_db: RedisDB) -> None:
    fill(app, redis_db)
    body, content_type = exposition(redis_db.client)
    assert content_type.startswith("text/plain")
    samples = parsed(body)
    summary = Stats(redis_db.client).summary()
    assert samples["henchman_processed_total"][()] == summary.processed == 12
    assert samples["henchman_failed_total"][()] == summary.failed == 3
    assert samples["henchman_retries"][()] == summary.retry_size == 3
    assert samples["henchman_enqueued"][()] == summary.enqueued == 2
    assert samples["henchman_dead"][()] == summary.dead_size
    assert samples["henchman_busy"][()] == summary.workers_size
    assert samples["henchman_queue_size"][(("queue", "reports"),)] == 1
    assert samples["henchman_queue_paused"][(("queue", "reports"),)] == 1
    assert samples["henchman_queue_paused"][(("queue", "default"),)] == 0
    assert samples["henchman_queue_latency_seconds"][(("queue", "default"),)] >= 29
    name = (("class", "mail.Send"),)
    assert samples["henchman_job_executions_recent"][name] == 12
    assert samples["henchman_job_failures_recent"][name] == 3
    inf = (("class", name[0][1]), ("le", "+Inf"))
    assert samples["henchman_job_duration_seconds_recent_bucket"][inf] == 9  # the successes


def test_a_thousand_queues_are_read_in_a_few_round_trips(redis_db: RedisDB) -> None:
    pipe = redis_db.client.pipeline(transaction=False)
    for index in range(1000):
        pipe.sadd(keys.QUEUES, f"q{index}")
        pipe.lpush(keys.queue(f"q{index}"), b"{}")
    pipe.execute()
    before = int(redis_db.client.info("stats")["total_commands_processed"])
    samples = parsed(exposition(redis_db.client)[0])
    commands = int(redis_db.client.info("stats")["total_commands_processed"]) - before
    assert len(samples["henchman_queue_size"]) == 1000
    # Pipelined: LLEN for the totals, then LLEN + LINDEX + SISMEMBER per queue; a fixed number
    # for the rest (counters, sets, metrics keys).
    assert commands < 4 * 1000 + 300


def test_the_collector_registers_in_an_apps_own_registry(redis_db: RedisDB) -> None:
    registry = CollectorRegistry()
    registry.register(HenchmanCollector(redis_db.client, namespace="jobs"))  # type: ignore[arg-type]
    assert registry.get_sample_value("jobs_processed_total") == 0


def test_the_worker_middleware_observes_run_times(app: Henchman, redis_db: RedisDB) -> None:
    registry = CollectorRegistry()
    app.middleware.add(JobDurations(registry))
    labels = {"class": "quick", "queue": "default", "outcome": "success"}

    @app.job(name="quick")
    def quick() -> None:
        pass

    quick.perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: redis_db.client.llen(keys.queue("default")) == 0)
        worker.wait_until(lambda: registry.get_sample_value(
            "henchman_job_duration_seconds_count", labels) == 1)
    assert registry.get_sample_value("henchman_job_duration_seconds_count", labels) == 1


@pytest.mark.parametrize("path", ["/metrics.prom"])
def test_the_web_ui_serves_the_exposition(redis_db: RedisDB, path: str) -> None:
    from henchman.web import create_app

    ui = create_app(redis_db.settings(), client=redis_db.client)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=ui)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
            return await web.get(path)

    response = asyncio.run(get())
    assert response.status_code == 200
    assert "henchman_processed_total 0.0" in response.text


def test_a_workers_health_port_serves_its_job_run_times(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    import socket
    import urllib.request

    from tests.support.worker_process import fast_env, start_worker, stop, wait_for

    (tmp_path / "proc_jobs.py").write_text(
        "import henchman\n\n@henchman.job(name='Tick')\ndef tick():\n    pass\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redis_db.client.lpush(keys.queue("default"), wire.encode(
        wire.build("Tick", [], {"queue": "default", "retry": True}, now=time.time())
    ))  # fmt: skip
    worker = start_worker(tmp_path, fast_env(redis_db.url), "--health-port", str(port))

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as page:
                return str(page.read().decode())
        except OSError:
            return ""

    try:
        wait_for(lambda: 'henchman_job_duration_seconds_count{class="Tick"' in scrape(),
                 what="the job's run time on /metrics")  # fmt: skip
        text = scrape()
    finally:
        stop(worker)
    samples = parsed(text.encode())
    labels = (("class", "Tick"), ("outcome", "success"), ("queue", "default"))
    assert samples["henchman_job_duration_seconds_count"][labels] == 1


def test_a_worker_without_a_health_port_does_not_time_its_jobs_for_prometheus(
    app: Henchman,
) -> None:
    from henchman.cli.run_cmd import _metrics_routes

    assert app.settings.health_port is None
    assert _metrics_routes(app, app.settings) == {}
    assert not any(isinstance(entry, JobDurations) for entry in app.middleware)
