"""OverLimit escaping a job: the same job (same jid) is rescheduled with a linear backoff and an
``overrated`` count, acknowledged in the same step, never counted as a failure; after 20
reschedules it goes through the ordinary retry logic."""

from __future__ import annotations

import time

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.errors import OverLimit
from henchman.limits import LimitQueues, OverLimitRescheduler
from tests.conftest import RedisDB
from tests.integration._core_helpers import (
    Recorder,
    queues,
    running_worker,
    settled,
    wait_for,
    zset_jobs,
)


def test_an_over_limit_job_is_rescheduled_with_the_same_jid_and_not_failed(
    app: Henchman, redis_db: RedisDB
) -> None:
    limiter = henchman.limiter.concurrent("busy", 1, wait_timeout=0, app=app)

    @app.job(name="limits.over")
    def over() -> None:
        with limiter.within_limit():
            pass

    holder = limiter.acquire()  # the only slot is taken for the whole test
    jid = over.perform_async()
    pushed_at = time.time()
    with running_worker(app, redis_db.settings()) as launcher:
        wait_for(lambda: redis_db.client.zcard(keys.SCHEDULE), what="the reschedule")
        wait_for(lambda: settled(redis_db.client, launcher), what="the acknowledgement")
    limiter.release(holder)
    [(job, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert job["jid"] == jid
    assert job["overrated"] == 1
    assert pushed_at + 300 <= score <= time.time() + 600
    assert redis_db.client.zcard(keys.RETRY) == 0
    assert int(redis_db.client.get(keys.STAT_FAILED) or 0) == 0


def test_a_job_over_limit_beyond_its_reschedules_goes_to_the_retry_set(
    app: Henchman, redis_db: RedisDB
) -> None:
    limiter = henchman.limiter.bucket("spent", 1, "day", wait_timeout=0, app=app)
    limiter.acquire()  # today's only admission is used

    @app.job(name="limits.exhausted")
    def exhausted() -> None:
        with limiter.within_limit():
            pass

    jid = exhausted.set(overrated=20).perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, _)] = zset_jobs(redis_db.client, keys.RETRY)
    assert job["jid"] == jid
    assert job["error_class"] == "henchman.errors.OverLimit"
    assert job["overrated"] == 20


def test_the_backoff_and_the_reschedule_limit_are_configurable(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.middleware.remove("limiter")
    app.middleware.add(OverLimitRescheduler(backoff=lambda n, exc, job: 0.2, max_overrated=2))
    limiter = henchman.limiter.concurrent("cfg", 1, wait_timeout=0, app=app)
    runs = Recorder()

    @app.job(name="limits.configured", retry=0)
    def configured() -> None:
        runs.add(henchman.current_job().payload.get("overrated"))
        with limiter.within_limit():
            pass

    limiter.acquire()
    configured.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
    assert runs.items == [None, 1, 2]


def test_limit_queues_caps_only_the_chosen_queues(app: Henchman, redis_db: RedisDB) -> None:
    limiter = henchman.limiter.concurrent("apiq", 1, wait_timeout=0, app=app)
    app.middleware.add(LimitQueues(limiter, ["api"]))
    ran = Recorder()

    @app.job(name="limits.queued")
    def queued(tag: str) -> None:
        ran.add(tag)

    holder = limiter.acquire()
    queued.set(queue="api").perform_async("api")
    queued.perform_async("default")
    with running_worker(app, redis_db.settings(queues=queues("api", "default"))):
        wait_for(lambda: ran.items, what="the default job")
        wait_for(lambda: redis_db.client.zcard(keys.SCHEDULE), what="the api job's reschedule")
    limiter.release(holder)
    assert ran.items == ["default"]



def test_an_async_job_over_limit_is_rescheduled_too(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="limits.async_over")
    async def async_over() -> None:
        raise OverLimit("remote-api", "remote-api is over its limit")

    jid = async_over.perform_async()
    with running_worker(app, redis_db.settings()) as launcher:
        wait_for(lambda: redis_db.client.zcard(keys.SCHEDULE), what="the reschedule")
        wait_for(lambda: settled(redis_db.client, launcher), what="the acknowledgement")
    [(job, _)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert (job["jid"], job["overrated"]) == (jid, 1)
    assert int(redis_db.client.get(keys.STAT_FAILED) or 0) == 0
