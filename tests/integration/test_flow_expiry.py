"""Expiring jobs: a job not started by its expiry time is acknowledged without running, counted
and logged with its jid; the expiry is relative to the due (enqueued or scheduled) time."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import orjson
import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.client.plan import plan_push
from henchman.context import JobContext
from henchman.errors import RequeueJob
from henchman.expiry import Expiry
from henchman.middleware.chain import JobRun
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, settled, wait_for


def test_an_expired_job_is_acknowledged_without_running_and_counted(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Recorder()

    @app.job(name="flow.expiring")
    def work(n: int) -> None:
        seen.add(n)

    jid = work.set(expires_in=0.05).perform_async(1)
    time.sleep(0.1)
    with (
        caplog.at_level(logging.INFO, logger="henchman"),
        running_worker(app, redis_db.settings()) as launcher,
    ):
        wait_for(lambda: settled(redis_db.client, launcher), what="the job to be taken")
    assert seen.items == []
    assert redis_db.client.get(keys.STAT_EXPIRED) == b"1"
    assert redis_db.client.zcard(keys.RETRY) == 0
    assert redis_db.client.zcard(keys.DEAD) == 0
    assert any("expired" in r.getMessage() and str(jid) in r.getMessage() for r in caplog.records)


def test_a_job_within_its_expiry_runs(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="flow.not_expired", expires_in=timedelta(hours=1))
    def work(n: int) -> None:
        seen.add(n)

    work.perform_async(2)
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items == [2], what="the job to run")
    assert redis_db.client.get(keys.STAT_EXPIRED) is None


def test_a_retry_after_the_expiry_time_is_dropped(app: Henchman, redis_db: RedisDB) -> None:
    runs = Recorder()

    @app.job(name="flow.expiring_retry", expires_in=1.0)
    def work() -> None:
        runs.add(1)
        raise RuntimeError("fails once")

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY) == 1, what="the first failure")
    raw = redis_db.client.zrange(keys.RETRY, 0, -1)[0]
    time.sleep(1.1)
    redis_db.client.zadd(keys.RETRY, {raw: 0})  # due now
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.get(keys.STAT_EXPIRED) == b"1", what="the expiry")
    assert len(runs) == 1


def test_expiry_counts_from_the_scheduled_time() -> None:
    plan = plan_push("j", [], {"queue": "q", "retry": True, "expires_in": 60}, [], now=1000.0,
                     delay=3600)  # fmt: skip
    assert plan is not None
    payload = orjson.loads(plan.raw)
    assert payload["expires_at"] == 1000.0 + 3600 + 60
    assert payload["expires_in"] == 60.0


def test_expiry_counts_from_the_enqueue_time_and_accepts_a_timedelta() -> None:
    options = {"queue": "q", "retry": True, "expires_in": timedelta(minutes=2)}
    plan = plan_push("j", [], options, [], now=1000.0)
    assert plan is not None
    assert orjson.loads(plan.raw)["expires_at"] == 1120.0


@pytest.mark.parametrize("bad", [0, -5, "soon", True, float("inf")])
def test_a_bad_expires_in_is_refused_at_push_time(
    app: Henchman, redis_db: RedisDB, bad: object
) -> None:
    @app.job(name="flow.bad_expiry")
    def work() -> None:
        pass

    with pytest.raises(ValueError, match="option 'expires_in' must be a positive number"):
        work.set(expires_in=bad).perform_async()
    assert redis_db.client.llen(keys.queue("default")) == 0


def test_an_iterable_job_put_back_after_starting_no_longer_expires() -> None:
    payload = {"class": "j", "args": [], "jid": "a" * 24, "expires_at": time.time() + 60}
    run = JobRun(JobContext(payload, "default"))

    def interrupted() -> None:
        raise RequeueJob(at_head=True)

    with pytest.raises(RequeueJob):
        Expiry().call(run, interrupted)
    assert "expires_at" not in payload
