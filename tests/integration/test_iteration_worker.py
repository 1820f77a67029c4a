"""Iterable jobs in an in-process worker: a stop or a quiet checkpoints them at the next item and
puts them back at the head of their queue; the next worker resumes them."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from typing import Any

import orjson

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.iteration import enumerators
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB

ITEMS = 300


def define_jobs(app: Henchman) -> tuple[type[Any], type[Any]]:
    class Numbers(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, ITEMS, cursor)

        def each_iteration(self, number: int) -> None:
            time.sleep(0.002)
            self.app.client.redis.rpush("test:items", number)

    class AsyncNumbers(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, ITEMS, cursor)

        async def each_iteration(self, number: int) -> None:
            await asyncio.sleep(0.002)
            self.app.client.redis.rpush("test:items", number)

    return Numbers, AsyncNumbers


def processed(redis_db: RedisDB) -> collections.Counter[int]:
    return collections.Counter(int(n) for n in redis_db.client.lrange("test:items", 0, -1))


def queued_jids(redis_db: RedisDB) -> list[str]:
    return [orjson.loads(r)["jid"] for r in redis_db.client.lrange(keys.queue("default"), 0, -1)]


def run_stop_and_resume(app: Henchman, redis_db: RedisDB, job: type[Any], stop: str) -> None:
    jid = job.perform_async()
    worker = TestWorker(app).start()
    try:
        worker.wait_until(lambda: redis_db.client.llen("test:items") >= 20, timeout=20)
        if stop == "quiet":
            worker.launcher.quiet()
            worker.wait_until(lambda: queued_jids(redis_db) == [jid], timeout=10)
    finally:
        worker.stop()
    assert queued_jids(redis_db) == [jid]
    assert redis_db.client.zcard(keys.RETRY) == 0
    saved = redis_db.client.hgetall(keys.iteration_state(jid))
    assert int(saved[b"c"]) == len(processed(redis_db))

    with TestWorker(app) as again:
        again.wait_until(lambda: len(processed(redis_db)) == ITEMS, timeout=30)
        again.wait_until(lambda: not redis_db.client.exists(keys.iteration_state(jid)), timeout=5)
    counts = processed(redis_db)
    assert set(counts) == set(range(ITEMS))
    assert max(counts.values()) == 1


def test_a_stop_checkpoints_a_sync_job_and_the_next_worker_resumes_it(
    app: Henchman, redis_db: RedisDB
) -> None:
    numbers, _ = define_jobs(app)
    run_stop_and_resume(app, redis_db, numbers, "stop")


def test_a_quiet_checkpoints_a_sync_job_and_requeues_it_at_the_head(
    app: Henchman, redis_db: RedisDB
) -> None:
    numbers, _ = define_jobs(app)
    run_stop_and_resume(app, redis_db, numbers, "quiet")


def test_a_stop_checkpoints_an_async_job_and_the_next_worker_resumes_it(
    app: Henchman, redis_db: RedisDB
) -> None:
    _, async_numbers = define_jobs(app)
    run_stop_and_resume(app, redis_db, async_numbers, "stop")
