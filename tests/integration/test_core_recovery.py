"""Orphan recovery and poison pills through ``OrphanRecovery`` and a live worker."""

from __future__ import annotations

import time

import orjson

from henchman import keys
from henchman.app import Henchman
from henchman.redis.scripts import Scripts
from henchman.server.recovery import POISON_CLASS, OrphanRecovery
from tests.conftest import RedisDB
from tests.integration._core_helpers import (
    Recorder,
    queue_jobs,
    running_worker,
    wait_for,
    zset_jobs,
)

DEAD_OWNER = "gone-host:4242:dead00"


def orphan(redis_db: RedisDB, raw: bytes, queue: str = "default") -> None:
    """Leave ``raw`` in the working list of a process whose heartbeat has expired."""
    working = keys.working(DEAD_OWNER, queue)
    redis_db.client.hset(keys.WORKING_LISTS, working, orjson.dumps([DEAD_OWNER, queue]))
    redis_db.client.lpush(working, raw)


def recovery(redis_db: RedisDB, identity: str = "me:1:live") -> OrphanRecovery:
    return OrphanRecovery(
        redis_db.client,
        Scripts(redis_db.client),
        identity,
        poison_limit=3,
        dead_max_jobs=100,
        dead_timeout=3600.0,
        clock=time.time,
    )


def payload(jid: str) -> bytes:
    return orjson.dumps(
        {"class": "core.recovered", "args": [1], "jid": jid, "queue": "default", "retry": True}
    )


def test_run_once_moves_orphans_back_and_counts_them(redis_db: RedisDB) -> None:
    orphan(redis_db, payload("o1"))
    assert recovery(redis_db).run_once() == 1
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == ["o1"]
    assert redis_db.client.get(keys.STAT_RECOVERED) == b"1"


def test_run_once_releases_its_lock(redis_db: RedisDB) -> None:
    recovery(redis_db).run_once()
    assert not redis_db.client.exists(keys.RECOVERY_LOCK)


def test_run_once_does_nothing_while_another_process_holds_the_lock(redis_db: RedisDB) -> None:
    redis_db.client.set(keys.RECOVERY_LOCK, b"other:1:x", px=30_000)
    orphan(redis_db, payload("o1"))
    assert recovery(redis_db).run_once() == 0
    assert redis_db.client.llen(keys.working(DEAD_OWNER, "default")) == 1


def test_a_poison_pill_is_buried_in_the_dead_set(redis_db: RedisDB) -> None:
    redis_db.client.hset(keys.RECOVERIES, "pill", 2)
    orphan(redis_db, payload("pill"))
    recovery(redis_db).run_once()
    [(job, _)] = zset_jobs(redis_db.client, keys.DEAD)
    assert job["jid"] == "pill"
    assert job["error_class"] == POISON_CLASS
    assert "died 3 times" in job["error_message"]
    assert not redis_db.client.exists(keys.POISON)
    assert not redis_db.client.exists(keys.queue("default"))


def test_a_worker_recovers_orphans_at_startup_and_runs_them(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="core.recovered")
    def work(n: int) -> None:
        ran.add(n)

    orphan(redis_db, payload("o1"))
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: ran.items, what="the recovered job to run")
    assert ran.items == [1]


def test_a_worker_never_recovers_a_live_processes_jobs(app: Henchman, redis_db: RedisDB) -> None:
    live_owner = DEAD_OWNER
    redis_db.client.hset(keys.process(live_owner), "info", "{}")
    redis_db.client.expire(keys.process(live_owner), 60)
    orphan(redis_db, payload("busy"))
    with running_worker(app, redis_db.settings(orphan_check_interval=0.2)) as worker:
        beat = redis_db.client.hget(keys.process(worker.identity), "beat")
        wait_for(
            lambda: redis_db.client.hget(keys.process(worker.identity), "beat") != beat,
            what="a heartbeat",
        )
        assert redis_db.client.llen(keys.working(DEAD_OWNER, "default")) == 1


def test_recovery_counts_expire(redis_db: RedisDB) -> None:
    orphan(redis_db, payload("ttl"))
    recovery(redis_db).run_once()
    assert 0 < redis_db.client.ttl(keys.RECOVERIES) <= 7 * 24 * 3600
