"""Job results: opt-in records of status, attempts, timestamps, errors and the JSON return
value, written with the acknowledgement, read through henchman.api.JobResult."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import henchman
from henchman import keys
from henchman.api import JobResult
from henchman.app import Henchman
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB


def run_until(app: Henchman, predicate: Any) -> None:
    with TestWorker(app) as worker:
        worker.wait_until(predicate)


def test_a_job_with_result_ttl_keeps_its_value_and_timings(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="Add", result_ttl=60)
    def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    jid = add.perform_async(2, 3)
    assert jid is not None
    assert JobResult(jid, redis_db.client).status is None  # nothing until a worker starts it
    run_until(app, lambda: JobResult(jid, redis_db.client).finished)
    result = JobResult(jid, redis_db.client)
    assert result.status == "succeeded"
    assert result.value == {"sum": 5}
    assert result.attempts == 1
    assert len(result.workers) == 1
    assert result.started_at is not None
    assert result.finished_at is not None
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert 0 < redis_db.client.pttl(keys.result(jid)) <= 60_000


def test_jobs_without_result_ttl_write_no_record(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="Plain")
    def plain() -> int:
        return 1

    jid = plain.perform_async()
    assert jid is not None
    run_until(app, lambda: redis_db.client.llen(keys.queue("default")) == 0)
    assert redis_db.client.exists(keys.result(jid)) == 0


def test_a_failure_then_a_success_keeps_the_error_and_counts_attempts(
    app: Henchman, redis_db: RedisDB
) -> None:
    calls: list[int] = []

    class Flaky(henchman.Job, app=app, name="Flaky"):
        result_ttl = 60

        def retry_in(self, count: int, exc: BaseException, payload: Any) -> float:
            return 0

        def perform(self) -> str:
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("upstream down")
            return "ok"

    jid = Flaky.perform_async()
    run_until(app, lambda: JobResult(jid, redis_db.client).finished)
    result = JobResult(jid, redis_db.client)
    assert result.status == "succeeded"
    assert result.value == "ok"
    assert result.attempts == 2
    (error,) = result.errors
    assert error["class"] == "builtins.ConnectionError"
    assert error["message"] == "upstream down"
    assert "raise ConnectionError" in error["traceback"]


def test_a_job_that_dies_is_failed(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="Doomed", retry=0, result_ttl=60)
    def doomed() -> None:
        raise ValueError("bad input")

    jid = doomed.perform_async()
    run_until(app, lambda: JobResult(jid, redis_db.client).finished)
    result = JobResult(jid, redis_db.client)
    assert result.status == "failed"
    assert result.last_error["message"] == "bad input"
    with pytest.raises(ValueError, match="its status is failed"):
        _ = result.value
    assert redis_db.client.zcard(keys.DEAD) == 1


def test_a_non_json_return_value_fails_the_job_with_a_clear_error(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="Leaky", retry=0, result_ttl=60)
    def leaky() -> Any:
        return {"when": object()}

    jid = leaky.perform_async()
    run_until(app, lambda: JobResult(jid, redis_db.client).finished)
    result = JobResult(jid, redis_db.client)
    assert result.status == "failed"
    message = result.last_error["message"]
    assert message.startswith("the job's return value cannot be stored as a result: ")
    assert "return value['when']" in message


def test_the_settings_default_applies_to_every_job(app: Henchman, redis_db: RedisDB) -> None:
    app.configure(app.settings.replace(result_ttl=30))

    @app.job(name="Any")
    def anything() -> None:
        return None

    jid = anything.perform_async()
    run_until(app, lambda: JobResult(jid, redis_db.client).finished)
    result = JobResult(jid, redis_db.client)
    assert result.status == "succeeded"
    assert result.value is None


def test_async_jobs_keep_results_and_wait_has_an_async_twin(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="AsyncDouble", result_ttl=60)
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    jid = double.perform_async(21)
    assert jid is not None
    with TestWorker(app):
        result = asyncio.run(JobResult(jid, redis_db.client).async_wait(timeout=20))
    assert result.value == 42
    assert JobResult(jid, redis_db.client).wait(timeout=1).value == 42


def test_wait_times_out_with_the_status(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="Never", result_ttl=60)
    def never() -> None:
        pass

    jid = never.perform_async()
    assert jid is not None
    with pytest.raises(TimeoutError, match="status None"):
        JobResult(jid, redis_db.client).wait(timeout=0.2)


def test_a_batch_job_keeps_its_result_and_still_counts_in_the_batch(
    app: Henchman, redis_db: RedisDB
) -> None:
    from henchman.api import BatchStatus
    from henchman.batches import Batch

    @app.job(name="Part", result_ttl=60)
    def part(n: int) -> int:
        return n

    batch = Batch(app=app, description="with results")
    with batch.jobs():
        jids = [part.perform_async(n) for n in range(3)]
    run_until(app, lambda: BatchStatus(batch.bid, redis_db.client).pending == 0)
    assert [JobResult(j, redis_db.client).value for j in jids if j] == [0, 1, 2]
