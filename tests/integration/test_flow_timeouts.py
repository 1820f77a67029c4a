"""Per-job timeouts: async jobs are cancelled at the deadline; sync jobs get JobTimeout at their
next interrupted() check (or iteration checkpoint); a sync job that never checks is named in the
log. A timeout is a failure, so the retry rules apply."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import henchman
from henchman import keys
from henchman.api.iteration import IterationState
from henchman.app import Henchman
from henchman.context import current_job
from henchman.iteration import enumerators
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, settled, wait_for


def retried(redis_db: RedisDB) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in redis_db.client.zrange(keys.RETRY, 0, -1)]


def test_an_async_job_is_cancelled_at_its_timeout_and_retried(
    app: Henchman, redis_db: RedisDB
) -> None:
    finished = Recorder()

    @app.job(name="flow.slow_async", timeout=0.3)
    async def work() -> None:
        await asyncio.sleep(30)
        finished.add(1)

    work.perform_async()
    with running_worker(app, redis_db.settings(async_concurrency=2)):
        wait_for(lambda: retried(redis_db), what="the timed-out job in the retry set")
    (job,) = retried(redis_db)
    assert job["error_class"] == "henchman.errors.JobTimeout"
    assert job["retry_count"] == 0
    assert finished.items == []


def test_a_sync_job_gets_job_timeout_at_its_next_interrupted_check(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="flow.slow_sync", timeout=0.3)
    def work() -> None:
        ctx = current_job()
        assert ctx is not None
        while not ctx.interrupted():
            time.sleep(0.01)

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: retried(redis_db), what="the timed-out job in the retry set")
    (job,) = retried(redis_db)
    assert job["error_class"] == "henchman.errors.JobTimeout"


def test_a_sync_job_that_never_checks_is_named_in_the_log_and_finishes(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    done = Recorder()

    @app.job(name="flow.stuck_sync", timeout=0.2)
    def work() -> None:
        time.sleep(1.0)
        done.add(1)

    with caplog.at_level(logging.WARNING, logger="henchman"):
        jid = work.perform_async()
        with running_worker(app, redis_db.settings()) as launcher:
            wait_for(lambda: done.items, what="the job to finish")
            wait_for(lambda: settled(redis_db.client, launcher), what="the acknowledgement")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(jid) in m and "past its timeout" in m for m in warnings)
    assert retried(redis_db) == []


def test_a_job_within_its_timeout_succeeds_and_is_not_logged(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    done = Recorder()

    @app.job(name="flow.quick_sync", timeout=30)
    def work() -> None:
        ctx = current_job()
        assert ctx is not None
        assert not ctx.interrupted()
        done.add(1)

    with caplog.at_level(logging.WARNING, logger="henchman"):
        work.perform_async()
        with running_worker(app, redis_db.settings()):
            wait_for(lambda: done.items, what="the job to run")
    assert retried(redis_db) == []
    assert not [r for r in caplog.records if "past its timeout" in r.getMessage()]


def test_an_iterable_job_times_out_at_a_checkpoint_and_keeps_its_cursor(
    app: Henchman, redis_db: RedisDB
) -> None:
    class Slow(henchman.IterableJob, app=app):
        timeout = 0.5

        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 1000, cursor)

        def each_iteration(self, number: int) -> None:
            time.sleep(0.02)

    jid = Slow.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: retried(redis_db), what="the timed-out iterable job")
    (job,) = retried(redis_db)
    assert job["error_class"] == "henchman.errors.JobTimeout"
    record = IterationState(redis_db.client).find(str(jid))
    assert record is not None
    assert record.cursor is not None  # the retry resumes after the items already done


@pytest.mark.parametrize("bad", [0, -1, "long"])
def test_a_bad_timeout_is_refused_at_push_time(
    app: Henchman, redis_db: RedisDB, bad: object
) -> None:
    @app.job(name="flow.bad_timeout")
    def work() -> None:
        pass

    with pytest.raises(ValueError, match="option 'timeout' must be a positive number"):
        work.set(timeout=bad).perform_async()
    assert redis_db.client.llen(keys.queue("default")) == 0
