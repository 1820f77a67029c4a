"""A worker serving queues on two shards: fetch, acknowledge, retry, poll and recover per shard."""

from __future__ import annotations

import time

import orjson
import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.config import QueueSpec
from henchman.errors import ConfigError
from henchman.server.heartbeat import new_identity
from henchman.server.launcher import Launcher
from henchman.server.recovery import register_working_lists
from henchman.shards.worker import plan_parts
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, wait_for

QUEUES = (QueueSpec("default"), QueueSpec("reports"))


def test_a_worker_drains_queues_on_two_shards(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    done = Recorder()

    @sharded_app.job(name="shards.work")
    def work(n: int) -> None:
        done.add(n)

    work.set(queue="reports").perform_async(1)
    work.perform_async(2)
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: sorted(done.items) == [1, 2], what="both jobs")
        wait_for(
            lambda: (
                not any(redis_db.client.scan_iter(match="henchman:working:*", _type="list"))
                and not any(other_db.client.scan_iter(match="henchman:working:*", _type="list"))
            ),
            what="both acknowledgements",
        )
    assert other_db.client.llen(keys.queue("reports")) == 0
    assert redis_db.client.llen(keys.queue("default")) == 0


def test_a_failed_jobs_retry_lands_in_its_queues_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.fail", queue="reports")
    def fail() -> None:
        raise ValueError("boom")

    jid = fail.perform_async()
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: other_db.client.zcard(keys.RETRY), what="the retry entry")
    (raw,) = other_db.client.zrange(keys.RETRY, 0, -1)
    assert orjson.loads(raw)["jid"] == jid
    assert redis_db.client.zcard(keys.RETRY) == 0


def test_a_failed_job_without_retries_dies_in_its_queues_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.die", queue="reports", retry=0)
    def die() -> None:
        raise ValueError("boom")

    die.perform_async()
    settings = sharded_app.settings.replace(queues=QUEUES)
    with running_worker(sharded_app, settings):
        wait_for(lambda: other_db.client.zcard(keys.DEAD), what="the dead record")
    assert redis_db.client.zcard(keys.DEAD) == 0


def test_a_due_scheduled_job_on_a_shard_is_enqueued_and_run(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    done = Recorder()

    @sharded_app.job(name="shards.later", queue="reports")
    def later() -> None:
        done.add("ran")

    later.perform_in(0.3)
    assert other_db.client.zcard(keys.SCHEDULE) == 1
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: done.items == ["ran"], what="the scheduled job")
    assert other_db.client.zcard(keys.SCHEDULE) == 0


def test_a_dead_processes_working_list_on_a_shard_is_recovered(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    done = Recorder()

    @sharded_app.job(name="shards.orphan", queue="reports")
    def orphan() -> None:
        done.add("ran")

    dead = new_identity("deadbeef0000")
    working = keys.working(dead, "reports")
    payload = {"class": "shards.orphan", "args": [], "jid": "a" * 24, "queue": "reports"}
    other_db.client.lpush(working, orjson.dumps(payload))
    register_working_lists(other_db.client, dead, {"reports": working})
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: done.items == ["ran"], what="the recovered job")
    assert other_db.client.llen(working) == 0


def test_a_live_sharded_workers_jobs_are_not_recovered_by_another_process(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    @sharded_app.job(name="shards.slow", queue="reports")
    def slow() -> None:
        time.sleep(1.5)

    slow.perform_async()
    settings = sharded_app.settings.replace(queues=QUEUES)
    with running_worker(sharded_app, settings) as launcher:
        wait_for(lambda: launcher.busy, what="the job to start")
        assert other_db.client.exists(keys.process(launcher.identity))  # the liveness mark
        with running_worker(sharded_app, settings) as second:
            assert second.shards is not None
            second.shards.recover()
        assert other_db.client.llen(keys.working(launcher.identity, "reports")) == 1


def test_the_process_is_registered_once_on_the_default_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)) as launcher:
        assert redis_db.client.smembers(keys.PROCESSES) == {launcher.identity.encode()}
        assert not other_db.client.exists(keys.PROCESSES)
        info = orjson.loads(redis_db.client.hget(keys.process(launcher.identity), "info") or b"")
        assert sorted(info["queues"]) == ["default", "reports"]
    assert not other_db.client.exists(keys.process(launcher.identity))


def test_a_capsules_concurrency_is_shared_out_between_its_shards(redis_db: RedisDB) -> None:
    settings = redis_db.settings(shards={"reports": "redis://r/1"}, concurrency=5, queues=QUEUES)
    parts = plan_parts(settings)
    assert [(p.name, [q.name for q in p.queues], p.concurrency) for p in parts] == [
        ("default", ["default"], 3),
        ("default@redis://r/1", ["reports"], 2),
    ]


def test_an_async_job_on_a_shard_runs_and_is_acknowledged_there(
    sharded_app: Henchman, other_db: RedisDB
) -> None:
    done = Recorder()

    @sharded_app.job(name="shards.async_work", queue="reports")
    async def async_work(n: int) -> None:
        done.add(n)

    async_work.perform_async(5)
    with running_worker(sharded_app, sharded_app.settings.replace(queues=QUEUES)):
        wait_for(lambda: done.items == [5], what="the async job")
        wait_for(
            lambda: not any(other_db.client.scan_iter(match="henchman:working:*", _type="list")),
            what="its acknowledgement",
        )


def test_a_periodic_job_on_a_queue_off_the_default_shard_stops_the_worker_in_one_line(
    sharded_app: Henchman,
) -> None:
    sharded_app.periodic("* * * * *", "Report", queue="reports", name="nightly")
    launcher = Launcher(sharded_app, sharded_app.settings.replace(queues=QUEUES))
    with pytest.raises(ConfigError) as info:
        launcher.start()
    assert str(info.value).startswith(
        "periodic job 'nightly' uses queue 'reports', which lives on shard "
    )
