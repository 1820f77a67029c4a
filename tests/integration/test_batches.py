"""Batches against a real server and an in-process worker: atomic jobs() blocks, callbacks that
fire exactly once with Sidekiq Pro's meaning, nesting, status and expiry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

import henchman
from henchman import keys
from henchman.api import BatchSet, BatchStatus, DeadSet
from henchman.app import Henchman
from henchman.errors import BatchError, RequeueJob
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB


class Jobs:
    """Jobs whose behaviour each test steers through Redis flags."""

    def __init__(self, app: Henchman, redis_db: RedisDB) -> None:
        r = redis_db.client
        self.redis = r

        @app.job(retry=3)
        def work(n: int) -> None:
            jid = henchman.current_job().jid  # type: ignore[union-attr]
            r.rpush("ran", jid)
            if r.sismember("fail-once", n) and r.set(f"failed:{jid}", 1, nx=True):
                raise ValueError(f"job {n} fails once")

        @work.retry_in
        def _soon(count: int, exc: BaseException, payload: dict[str, Any]) -> float:
            return 0.0

        @app.job(retry=0)
        def fragile(n: int) -> None:
            if not r.exists("healed"):
                raise RuntimeError("not yet")

        @app.job
        def callback(status: dict[str, Any], options: dict[str, Any]) -> None:
            r.rpush("callbacks", orjson.dumps({"status": status, "options": options}))

        self.work, self.fragile, self.callback = work, fragile, callback

    def callbacks(self) -> list[dict[str, Any]]:
        return [orjson.loads(raw) for raw in self.redis.lrange("callbacks", 0, -1)]

    def events(self, bid: str | None = None) -> list[str]:
        return [
            c["status"]["event"]
            for c in self.callbacks()
            if bid is None or c["status"]["bid"] == bid
        ]


@pytest.fixture
def jobs(app: Henchman, redis_db: RedisDB) -> Jobs:
    return Jobs(app, redis_db)


def queued(redis_db: RedisDB, queue: str = "default") -> int:
    return int(redis_db.client.llen(keys.queue(queue)))


def test_bid_has_sidekiq_pro_format(app: Henchman) -> None:
    bid = henchman.Batch(app=app).bid
    assert len(bid) == 14
    assert set(bid) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_jobs_block_pushes_nothing_until_it_ends(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        for n in range(2500):  # more than one staging slice
            jobs.work.perform_async(n)
        assert queued(redis_db) == 0
        assert not redis_db.client.exists(keys.batch(batch.bid))
    assert queued(redis_db) == 2500
    payloads = [orjson.loads(r) for r in redis_db.client.lrange(keys.queue("default"), 0, 9)]
    assert {p["bid"] for p in payloads} == {batch.bid}
    assert BatchStatus(batch.bid, redis_db.client).total == 2500
    assert redis_db.client.keys("b-*-stage*") == []


def fill_and_fail(batch: henchman.Batch, jobs: Jobs, count: int) -> None:
    with batch.jobs():
        for n in range(count):
            jobs.work.perform_async(n)
        jobs.work.perform_in(60, -1)
        _ = 1 / 0


def test_jobs_block_that_raises_pushes_nothing(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    with pytest.raises(ZeroDivisionError):
        fill_and_fail(henchman.Batch(app=app), jobs, 2500)
    assert redis_db.client.dbsize() == 0


def test_pushes_outside_the_block_are_not_in_the_batch(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        jobs.work.perform_async(1)
    jobs.work.perform_async(2)
    bids = [
        orjson.loads(r).get("bid") for r in redis_db.client.lrange(keys.queue("default"), 0, -1)
    ]
    assert sorted(bids, key=str) == sorted([batch.bid, None], key=str)


def test_scheduled_job_of_a_batch_goes_to_the_schedule_at_commit(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        jobs.work.perform_in(3600, 1)
        assert redis_db.client.zcard(keys.SCHEDULE) == 0
    (raw,) = redis_db.client.zrange(keys.SCHEDULE, 0, -1)
    assert orjson.loads(raw)["bid"] == batch.bid
    assert BatchStatus(batch.bid, redis_db.client).pending == 1


def test_complete_and_success_fire_once_after_retries(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    redis_db.client.sadd("fail-once", 3, 7)
    batch = henchman.Batch(description="ten", app=app)
    batch.on("complete", jobs.callback, {"n": 1}).on("success", jobs.callback, {"n": 2})
    with batch.jobs():
        for n in range(10):
            jobs.work.perform_async(n)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: len(jobs.events()) == 2, timeout=30)
        time.sleep(0.5)  # nothing more may come
    calls = {c["status"]["event"]: c for c in jobs.callbacks()}
    assert sorted(calls) == ["complete", "success"]  # once each; no order when fired together
    assert (calls["complete"]["options"], calls["success"]["options"]) == ({"n": 1}, {"n": 2})
    assert calls["success"]["status"]["pending"] == 0
    assert calls["success"]["status"]["total"] == 10
    assert redis_db.client.llen("ran") == 12
    status = BatchStatus(batch.bid, redis_db.client)
    assert (status.pending, status.failures, status.success, status.complete) == (0, 0, True, True)


def test_complete_fires_when_every_job_ran_even_if_one_still_fails(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    batch.on("complete", jobs.callback).on("success", jobs.callback)
    with batch.jobs():
        jobs.work.perform_async(1)
        jobs.fragile.perform_async(2)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: jobs.events() == ["complete"], timeout=20)
        status = BatchStatus(batch.bid, redis_db.client)
        assert (status.pending, status.failures, status.success) == (1, 1, False)


def test_death_fires_once_and_success_after_a_manual_retry(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    for event in ("complete", "success", "death"):
        batch.on(event, jobs.callback)
    with batch.jobs():
        jobs.fragile.perform_async(1)
        jobs.fragile.perform_async(2)
    dead = DeadSet(redis_db.client)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: dead.size == 2 and len(jobs.events()) == 2, timeout=20)
        assert sorted(jobs.events()) == ["complete", "death"]
        status = BatchStatus(batch.bid, redis_db.client)
        assert len(status.dead_jids) == 2
        redis_db.client.set("healed", 1)
        for record in list(dead):
            dead.retry(record)
        worker.wait_until(lambda: "success" in jobs.events(), timeout=20)
        time.sleep(0.3)
    assert sorted(jobs.events()) == ["complete", "death", "success"]
    status = BatchStatus(batch.bid, redis_db.client)
    assert (status.pending, status.failures, status.dead_jids) == (0, 0, [])


def test_callback_runs_on_the_callback_queue_or_its_setters_queue(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    first = henchman.Batch(app=app, callback_queue="critical").on("success", jobs.callback)
    with first.jobs():
        pass
    second = henchman.Batch(app=app).on("success", jobs.callback.set(queue="low"))
    with second.jobs():
        pass
    assert redis_db.client.llen("queue:critical") == 1
    assert redis_db.client.llen("queue:low") == 1


def test_empty_batch_fires_complete_and_success(app: Henchman, jobs: Jobs) -> None:
    batch = henchman.Batch(app=app)
    batch.on("complete", jobs.callback).on("success", jobs.callback)
    with batch.jobs():
        pass
    with TestWorker(app) as worker:
        worker.wait_until(lambda: len(jobs.events()) == 2, timeout=10)
    assert sorted(jobs.events()) == ["complete", "success"]


def test_child_success_callbacks_run_before_the_parents(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    top = henchman.Batch(description="top", app=app).on("success", jobs.callback, {"level": 1})
    with top.jobs():
        jobs.work.perform_async(1)
        middle = henchman.Batch(app=app).on("success", jobs.callback, {"level": 2})
        with middle.jobs():
            jobs.work.perform_async(2)
            bottom = henchman.Batch(app=app).on("success", jobs.callback, {"level": 3})
            with bottom.jobs():
                jobs.work.perform_async(3)
    status = BatchStatus(top.bid, redis_db.client)
    assert status.child_bids == [middle.bid]
    assert BatchStatus(bottom.bid, redis_db.client).parent_bid == middle.bid
    with TestWorker(app) as worker:
        worker.wait_until(lambda: len(jobs.events()) == 3, timeout=20)
    assert [c["options"]["level"] for c in jobs.callbacks()] == [3, 2, 1]
    # a child's callback is a job of its parent: the parent counted it
    assert BatchStatus(middle.bid, redis_db.client).total == 2


def test_death_propagates_to_the_parent(app: Henchman, redis_db: RedisDB, jobs: Jobs) -> None:
    parent = henchman.Batch(app=app).on("death", jobs.callback, {"who": "parent"})
    with parent.jobs():
        jobs.work.perform_async(1)
        child = henchman.Batch(app=app).on("death", jobs.callback, {"who": "child"})
        with child.jobs():
            jobs.fragile.perform_async(2)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: len(jobs.events()) == 2, timeout=20)
        time.sleep(0.3)
    assert sorted(c["options"]["who"] for c in jobs.callbacks()) == ["child", "parent"]
    assert BatchStatus(parent.bid, redis_db.client).dead


def test_jobs_added_from_inside_a_job_belong_to_its_batch(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    @app.job
    def fan_out(count: int) -> None:
        batch = henchman.current_batch()
        assert batch is not None
        with batch.jobs():
            for n in range(count):
                jobs.work.perform_async(n)

    batch = henchman.Batch(app=app).on("success", jobs.callback)
    with batch.jobs():
        fan_out.perform_async(5)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)
    assert redis_db.client.llen("ran") == 5
    assert BatchStatus(batch.bid, redis_db.client).total == 6


def test_class_jobs_reach_their_batch_as_self_batch(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    class FanOut(henchman.Job, app=app):
        def perform(self) -> None:
            assert self.batch is not None
            redis_db.client.set("bid", self.bid or "")
            with self.batch.jobs():
                jobs.work.perform_async(1)

    batch = henchman.Batch(app=app).on("success", jobs.callback)
    with batch.jobs():
        FanOut.perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)
    assert redis_db.client.get("bid") == batch.bid.encode()
    assert BatchStatus(batch.bid, redis_db.client).total == 2


def test_a_batch_opened_inside_a_batch_job_is_its_child(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    @app.job
    def spawn() -> None:
        child = henchman.Batch(app=app)
        with child.jobs():
            jobs.work.perform_async(1)
        redis_db.client.set("child", child.bid)

    parent = henchman.Batch(app=app).on("success", jobs.callback)
    with parent.jobs():
        spawn.perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)
    child_bid = redis_db.client.get("child").decode()  # type: ignore[union-attr]
    assert BatchStatus(child_bid, redis_db.client).parent_bid == parent.bid
    assert BatchStatus(parent.bid, redis_db.client).child_bids == [child_bid]


def test_a_job_delivered_twice_counts_once(app: Henchman, redis_db: RedisDB, jobs: Jobs) -> None:
    batch = henchman.Batch(app=app).on("success", jobs.callback)
    with batch.jobs():
        jobs.work.perform_async(1)
        jobs.work.perform_async(2)
    # a crash after perform and before the ack runs a job again: simulate the second delivery
    (raw, _) = redis_db.client.lrange(keys.queue("default"), 0, -1)
    redis_db.client.lpush(keys.queue("default"), raw)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: redis_db.client.llen("ran") == 3 and jobs.events(), timeout=20)
        time.sleep(0.3)
    assert jobs.events() == ["success"]
    status = BatchStatus(batch.bid, redis_db.client)
    assert (status.total, status.pending) == (2, 0)


def test_requeued_job_stays_pending(app: Henchman, redis_db: RedisDB, jobs: Jobs) -> None:
    @app.job
    def interrupted() -> None:
        if redis_db.client.incr("runs") == 1:
            raise RequeueJob()  # what an interrupted iterable job does
        redis_db.client.blpop("go", timeout=20)

    batch = henchman.Batch(app=app).on("success", jobs.callback)
    with batch.jobs():
        interrupted.perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: redis_db.client.get("runs") == b"2", timeout=20)
        status = BatchStatus(batch.bid, redis_db.client)
        assert (status.pending, status.failures, status.complete) == (1, 0, False)
        redis_db.client.rpush("go", 1)
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)


def test_a_job_skipped_by_middleware_counts_as_finished(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    class DropExpired(henchman.Middleware):  # how an expiry check drops a job: it never runs
        def call(self, run: henchman.JobRun, call_next: Any) -> Any:
            return None if run.payload["args"] == [2] else call_next()

    app.middleware.add(DropExpired())
    batch = henchman.Batch(app=app).on("success", jobs.callback)
    with batch.jobs():
        jobs.work.perform_async(1)
        jobs.work.perform_async(2)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)
    assert redis_db.client.llen("ran") == 1


def test_batches_survive_a_server_that_lost_its_scripts(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    with TestWorker(app) as worker:
        jobs.work.perform_async(0)  # the worker has loaded and used its scripts
        worker.wait_until(lambda: redis_db.client.llen("ran") == 1, timeout=20)
        redis_db.client.script_flush()  # what a restarted server looks like
        batch = henchman.Batch(app=app).on("success", jobs.callback)
        with batch.jobs():
            for n in range(20):
                jobs.work.perform_async(n)
        worker.wait_until(lambda: jobs.events() == ["success"], timeout=20)
    assert BatchStatus(batch.bid, redis_db.client).pending == 0


def test_batch_expires_thirty_days_pending_and_a_day_after_success(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        jobs.work.perform_async(1)
    assert 29 * 86400 < redis_db.client.ttl(keys.batch(batch.bid)) <= 30 * 86400
    assert 29 * 86400 < redis_db.client.ttl(keys.batch_jids(batch.bid)) <= 30 * 86400
    with TestWorker(app) as worker:
        worker.wait_until(lambda: BatchStatus(batch.bid, redis_db.client).success, timeout=20)
    assert 23 * 3600 < redis_db.client.ttl(keys.batch(batch.bid)) <= 24 * 3600


def test_a_dead_job_keeps_its_batch_as_long_as_the_dead_set(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        jobs.fragile.perform_async(1)
    with TestWorker(app) as worker:
        worker.wait_until(lambda: BatchStatus(batch.bid, redis_db.client).dead, timeout=20)
    for key in (keys.batch(batch.bid), keys.batch_died(batch.bid), keys.batch_jids(batch.bid)):
        assert redis_db.client.ttl(key) > 179 * 86400


def test_batch_set_lists_newest_first(app: Henchman, redis_db: RedisDB, jobs: Jobs) -> None:
    bids = []
    for n in range(3):
        batch = henchman.Batch(description=f"b{n}", app=app)
        with batch.jobs():
            jobs.work.perform_async(n)
        bids.append(batch.bid)
        time.sleep(0.01)
    listed = list(BatchSet(redis_db.client))
    assert [b.bid for b in listed] == bids[::-1]
    assert [b.description for b in listed] == ["b2", "b1", "b0"]
    redis_db.client.delete(keys.batch(bids[1]))  # expired
    assert [b.bid for b in BatchSet(redis_db.client)] == [bids[2], bids[0]]
    assert BatchSet(redis_db.client).size == 2


def test_status_wait_returns_when_complete_or_times_out(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        jobs.work.perform_async(1)
    status = batch.status()
    assert status.wait(timeout=0.2) is False
    with TestWorker(app):
        assert status.wait(timeout=20, until="success") is True
    assert status.pending == 0


def test_async_jobs_block_and_wait(app: Henchman, redis_db: RedisDB, jobs: Jobs) -> None:
    async def main() -> str:
        batch = henchman.Batch(app=app).on("success", jobs.callback)
        async with batch.ajobs():
            for n in range(3):
                await jobs.work.aperform_async(n)
            assert queued(redis_db) == 0
        await app.aclient.aclose()
        return batch.bid

    bid = asyncio.run(main())
    assert queued(redis_db) == 3

    async def wait() -> bool:
        try:
            return await BatchStatus(bid, redis_db.client, app=app).async_wait(timeout=20)
        finally:
            await app.aclient.aclose()

    with TestWorker(app):
        assert asyncio.run(wait()) is True


def test_async_jobs_block_that_raises_pushes_nothing(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    async def main() -> None:
        try:
            async with henchman.Batch(app=app).ajobs():
                for n in range(1500):
                    await jobs.work.aperform_async(n)
                raise KeyError("stop")
        finally:
            await app.aclient.aclose()

    with pytest.raises(KeyError):
        asyncio.run(main())
    assert redis_db.client.dbsize() == 0


# --- bad input: one clear error, nothing changed -------------------------------------------------


def push_many(batch: henchman.Batch, jobs: Jobs, count: int) -> None:
    with batch.jobs():
        for n in range(count):
            jobs.work.perform_async(n)


def test_callback_options_must_be_a_json_object(app: Henchman, jobs: Jobs) -> None:
    batch = henchman.Batch(app=app)
    with pytest.raises(BatchError, match="must be a JSON object"):
        batch.on("success", jobs.callback, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(BatchError, match="not JSON"):
        batch.on("success", jobs.callback, {"when": object()})


def test_callback_must_be_a_registered_job(app: Henchman) -> None:
    with pytest.raises(BatchError, match=r"'nope\.job' is not a registered job"):
        henchman.Batch(app=app).on("success", "nope.job")


def test_unknown_callback_event_is_refused(app: Henchman, jobs: Jobs) -> None:
    with pytest.raises(BatchError, match="unknown batch callback 'done'"):
        henchman.Batch(app=app).on("done", jobs.callback)


def test_reopening_an_unknown_batch_changes_nothing(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    with pytest.raises(BatchError, match="does not exist"):
        push_many(henchman.Batch("nosuchbatch123", app=app), jobs, 1200)
    assert redis_db.client.dbsize() == 0
    with pytest.raises(BatchError, match="does not exist"):
        BatchStatus("nosuchbatch123", redis_db.client)


def test_adding_to_a_succeeded_batch_changes_nothing(
    app: Henchman, redis_db: RedisDB, jobs: Jobs
) -> None:
    batch = henchman.Batch(app=app)
    with batch.jobs():
        pass  # empty: succeeds at once
    before = redis_db.client.dbsize()
    with pytest.raises(BatchError, match="already succeeded"):
        push_many(henchman.Batch(batch.bid, app=app), jobs, 1)
    assert queued(redis_db) == 0
    assert redis_db.client.dbsize() == before
    assert BatchStatus(batch.bid, redis_db.client).total == 0
