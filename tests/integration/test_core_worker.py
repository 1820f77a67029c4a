"""An in-process worker end to end on a real server: jobs run, failures
land in retry/dead in Sidekiq's layout, hooks and handlers are called, scheduled jobs run."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.context import current_job
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.integration._core_helpers import (
    Recorder,
    finish,
    queues,
    running_worker,
    settled,
    wait_for,
    zset_jobs,
)


class Boom(Exception):
    """A job failure with a known message."""


def test_a_sync_function_job_runs_with_its_arguments(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.sync_runs")
    def work(a: int, b: str) -> None:
        seen.add((a, b))

    work.perform_async(1, "x")
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the job to run")
    assert seen.items == [(1, "x")]


def test_an_async_function_job_runs_on_the_event_loop(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.async_runs")
    async def work(a: int) -> None:
        await asyncio.sleep(0)
        seen.add((a, asyncio.get_running_loop() is not None))

    work.perform_async(7)
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the async job to run")
    assert seen.items == [(7, True)]


def test_sync_and_async_jobs_both_run_in_one_worker(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.both_sync")
    def sync_work(n: int) -> None:
        seen.add(("sync", n))

    @app.job(name="core.both_async")
    async def async_work(n: int) -> None:
        seen.add(("async", n))

    for n in range(3):
        sync_work.perform_async(n)
        async_work.perform_async(n)
    with running_worker(app, redis_db.settings(concurrency=2, async_concurrency=4)):
        wait_for(lambda: len(seen) == 6, what="all six jobs to run")
    assert sorted(seen.items) == sorted([(k, n) for k in ("sync", "async") for n in range(3)])


def test_a_finished_job_leaves_its_queue_and_working_list_empty(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    @app.job(name="core.acked")
    def work() -> None:
        seen.add(1)

    work.perform_async()
    with running_worker(app, redis_db.settings()) as worker:
        wait_for(lambda: seen.items and settled(redis_db.client, worker), what="the ack")
        assert redis_db.client.zcard(keys.RETRY) == 0
        assert redis_db.client.zcard(keys.DEAD) == 0


def test_a_class_style_job_sees_its_jid_retry_count_and_queue(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    class ClassJob(henchman.Job, app=app, name="core.ClassJob"):
        queue = "classy"

        def perform(self, value: int) -> None:
            seen.add((self.jid, self.retry_count, self.queue, value))

    jid = ClassJob.perform_async(5)
    with running_worker(app, redis_db.settings(queues=queues("classy"))):
        wait_for(lambda: seen.items, what="the class-style job to run")
    assert seen.items == [(jid, 0, "classy", 5)]


def test_an_async_class_style_job_runs(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    class AsyncClassJob(henchman.Job, app=app, name="core.AsyncClassJob"):
        async def perform(self, value: int) -> None:
            seen.add((self.jid, value))

    jid = AsyncClassJob.perform_async(3)
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the async class-style job to run")
    assert seen.items == [(jid, 3)]


def test_current_job_exposes_the_running_payload(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.current_job")
    def work() -> None:
        ctx = current_job()
        assert ctx is not None
        seen.add((ctx.jid, ctx.queue, ctx.payload["class"]))

    jid = work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the job to run")
    assert seen.items == [(jid, "default", "core.current_job")]


def test_strict_order_drains_earlier_queues_first(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.strict")
    def work(tag: str) -> None:
        seen.add(tag)

    for n in range(3):
        work.set(queue="low").perform_async(f"low{n}")
    for n in range(3):
        work.set(queue="high").perform_async(f"high{n}")
    settings = redis_db.settings(queues=queues("high", "low"), concurrency=1)
    with running_worker(app, settings):
        wait_for(lambda: len(seen) == 6, what="all six jobs to run")
    assert seen.items == ["high0", "high1", "high2", "low0", "low1", "low2"]


def test_weighted_order_interleaves_queues(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.weighted")
    def work(tag: str) -> None:
        seen.add(tag)

    for n in range(20):
        work.set(queue="a").perform_async(f"a{n}")
    for n in range(20):
        work.set(queue="b").perform_async(f"b{n}")
    settings = redis_db.settings(queues=queues("a", "b", weights={"a": 1, "b": 1}), concurrency=1)
    with running_worker(app, settings):
        wait_for(lambda: len(seen) == 40, what="all forty jobs to run")
    first_b = next(i for i, tag in enumerate(seen.items) if tag.startswith("b"))
    # Strict order would run all twenty 'a' jobs first; with equal weights the chance of that is
    # 2**-20.
    assert first_b < 20
    # FIFO within each queue whatever the queue order.
    assert [t for t in seen.items if t.startswith("a")] == [f"a{n}" for n in range(20)]


def test_a_failing_job_lands_in_retry_with_sidekiq_error_fields(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="core.fails")
    def work() -> None:
        raise Boom("it broke")

    jid = work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, score)] = zset_jobs(redis_db.client, keys.RETRY)
    assert job["jid"] == jid
    assert job["class"] == "core.fails"
    assert job["error_message"] == "it broke"
    assert job["error_class"].endswith("Boom")
    assert job["retry_count"] == 0
    assert isinstance(job["failed_at"], float)
    assert "retried_at" not in job
    assert 15 <= score - job["failed_at"] < 25


def test_a_failing_job_is_no_longer_in_its_queue_or_working_list(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="core.fails_acked")
    def work() -> None:
        raise Boom("x")

    work.perform_async()
    with running_worker(app, redis_db.settings()) as worker:
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
        assert settled(redis_db.client, worker)


def test_a_failure_with_retry_zero_goes_straight_to_the_dead_set(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="core.retry_zero", retry=0)
    def work() -> None:
        raise Boom("dead on arrival")

    jid = work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
    [(job, score)] = zset_jobs(redis_db.client, keys.DEAD)
    assert job["jid"] == jid
    assert job["error_message"] == "dead on arrival"
    assert score == job["failed_at"]
    assert redis_db.client.zcard(keys.RETRY) == 0


def test_a_failure_with_retry_false_leaves_no_record(app: Henchman, redis_db: RedisDB) -> None:
    ran = Recorder()

    @app.job(name="core.retry_false", retry=False)
    def work() -> None:
        ran.add(1)
        raise Boom("gone")

    work.perform_async()
    with running_worker(app, redis_db.settings()) as worker:
        wait_for(lambda: ran.items and settled(redis_db.client, worker), what="the job to finish")
    assert redis_db.client.zcard(keys.RETRY) == 0
    assert redis_db.client.zcard(keys.DEAD) == 0


def test_a_second_failure_increments_retry_count_and_sets_retried_at(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="core.fails_again")
    def work() -> None:
        raise Boom("again")

    # As the poller would enqueue it after a first failure.
    app.enqueue("core.fails_again", retry_count=0, failed_at=1.5, error_message="first")
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, _)] = zset_jobs(redis_db.client, keys.RETRY)
    assert job["retry_count"] == 1
    assert job["failed_at"] == 1.5
    assert isinstance(job["retried_at"], float)
    assert job["error_message"] == "again"


def test_retries_exhausted_hook_and_death_handlers_are_called_on_death(
    app: Henchman, redis_db: RedisDB
) -> None:
    exhausted = Recorder()
    deaths = Recorder()
    app.death_handlers.append(lambda job, exc: deaths.add((job["jid"], str(exc))))

    @app.job(name="core.exhausted", retry=0)
    def work() -> None:
        raise Boom("final")

    @work.retries_exhausted
    def on_exhausted(job: dict[str, Any], exc: BaseException) -> None:
        exhausted.add((job["jid"], job["error_message"], type(exc).__name__))

    jid = work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
        wait_for(lambda: deaths.items, what="the death handler")
    assert exhausted.items == [(jid, "final", "Boom")]
    assert deaths.items == [(jid, "final")]


def test_a_class_style_retries_exhausted_hook_is_called(app: Henchman, redis_db: RedisDB) -> None:
    exhausted = Recorder()

    class Exhausting(henchman.Job, app=app, name="core.Exhausting"):
        retry = 0

        def perform(self) -> None:
            raise Boom("class final")

        def retries_exhausted(self, job: dict[str, Any], exc: BaseException) -> None:
            exhausted.add(job["jid"])

    jid = Exhausting.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: exhausted.items, what="the class hook")
    assert exhausted.items == [jid]


def test_death_handlers_are_not_called_when_dead_is_false(app: Henchman, redis_db: RedisDB) -> None:
    deaths = Recorder()
    ran = Recorder()
    app.death_handlers.append(lambda job, exc: deaths.add(job["jid"]))

    @app.job(name="core.no_dead", retry=0, dead=False)
    def work() -> None:
        ran.add(1)
        raise Boom("discarded")

    work.perform_async()
    with running_worker(app, redis_db.settings()) as worker:
        wait_for(lambda: ran.items and settled(redis_db.client, worker), what="the job to finish")
    assert redis_db.client.zcard(keys.DEAD) == 0
    assert deaths.items == []


def test_error_handlers_are_called_for_every_failure(app: Henchman, redis_db: RedisDB) -> None:
    errors = Recorder()
    app.error_handlers.append(lambda exc, ctx: errors.add((str(exc), ctx["job"]["jid"])))

    @app.job(name="core.error_handlers")
    def work(n: int) -> None:
        raise Boom(f"failure {n}")

    jids = [work.perform_async(n) for n in range(2)]
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: len(errors) == 2, what="both error handler calls")
    assert sorted(errors.items) == sorted([("failure 0", jids[0]), ("failure 1", jids[1])])


def test_a_failing_error_handler_does_not_lose_the_retry_record(
    app: Henchman, redis_db: RedisDB
) -> None:
    def broken(exc: BaseException, ctx: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    app.error_handlers.append(broken)

    @app.job(name="core.broken_handler")
    def work() -> None:
        raise Boom("x")

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")


def test_retry_in_hook_sets_the_retry_delay(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.retry_in")
    def work() -> None:
        raise Boom("x")

    @work.retry_in
    def delay(count: int, exc: BaseException, job: dict[str, Any]) -> float:
        return 1000.0

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, score)] = zset_jobs(redis_db.client, keys.RETRY)
    assert score - job["failed_at"] == 1000.0


def test_retry_queue_option_sends_the_retry_to_that_queue(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.retry_queue", retry_queue="slow_lane")
    def work() -> None:
        raise Boom("x")

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, _)] = zset_jobs(redis_db.client, keys.RETRY)
    assert job["queue"] == "slow_lane"


def test_a_due_retry_is_moved_back_to_its_queue_and_runs(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="core.flaky")
    def work() -> None:
        ctx = current_job()
        assert ctx is not None
        if ctx.retry_count == 0:
            raise Boom("first time")
        seen.add(ctx.retry_count)

    @work.retry_in
    def soon(count: int, exc: BaseException, job: dict[str, Any]) -> float:
        return 0.1

    work.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the retried job to succeed")
    assert seen.items == [1]


def test_a_job_scheduled_with_perform_in_runs_after_the_poller_moves_it(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    @app.job(name="core.scheduled")
    def work(n: int) -> None:
        ctx = current_job()
        assert ctx is not None
        seen.add((n, ctx.payload.get("enqueued_at")))

    pushed_at = time.time()
    work.perform_in(0.3, 9)
    assert redis_db.client.zcard(keys.SCHEDULE) == 1
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: seen.items, what="the scheduled job to run")
    [(n, enqueued_at)] = seen.items
    assert n == 9
    assert enqueued_at >= pushed_at + 0.3
    assert redis_db.client.zcard(keys.SCHEDULE) == 0


def test_a_long_job_blocks_no_other_worker_thread(app: Henchman, redis_db: RedisDB) -> None:
    release = threading.Event()
    seen = Recorder()

    @app.job(name="core.blocker")
    def blocker() -> None:
        release.wait(DEADLINE_SECONDS)

    @app.job(name="core.quick")
    def quick() -> None:
        seen.add(1)

    blocker.perform_async()
    quick.perform_async()
    with running_worker(app, redis_db.settings(concurrency=2)):
        try:
            wait_for(lambda: seen.items, what="the quick job beside the blocked one")
        finally:
            release.set()


DEADLINE_SECONDS = 15.0


def test_stop_closes_the_capsule_event_loop(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.loop_owner")
    async def work() -> None:
        pass

    launcher = Launcher(app, redis_db.settings())
    launcher.start()
    try:
        launcher.stop()
        [capsule] = launcher.capsules
        assert capsule.loop is not None
        assert capsule.loop.is_closed()
    finally:
        launcher.stop()
        finish(launcher)
