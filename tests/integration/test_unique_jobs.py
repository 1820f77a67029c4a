"""Unique jobs on the real server: one push wins a race, duplicates return None and name the
holder, the lock lives through retries and dies with success, start (if asked), death or TTL."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.unique import lock_key
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, settled, wait_for, zset_jobs


def _lock(args: list[Any], name: str, queue: str = "default") -> str:
    return lock_key({"class": name, "queue": queue, "args": args})


def test_ten_threads_pushing_the_same_job_at_once_push_it_exactly_once(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="uniq.race", unique_for=60)
    def race(n: int) -> None: ...

    race.perform_async(0)  # warm the connection pool so the threads really race
    redis_db.client.flushdb()
    barrier = threading.Barrier(10)
    results = Recorder()

    def push() -> None:
        barrier.wait()
        results.add(race.perform_async(1))

    threads = [threading.Thread(target=push) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jids = [jid for jid in results.items if jid is not None]
    assert len(results.items) == 10
    assert len(jids) == 1
    assert redis_db.client.llen(keys.queue("default")) == 1
    assert redis_db.client.get(_lock([1], "uniq.race")) == jids[0].encode()


def test_a_duplicate_push_returns_none_and_logs_the_holder_s_jid(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    @app.job(name="uniq.dup", unique_for=60)
    def dup(n: int) -> None: ...

    holder = dup.perform_async(5)
    with caplog.at_level(logging.INFO, logger="henchman.client"):
        assert dup.perform_async(5) is None
    assert f"lock held by job {holder}" in caplog.text
    assert dup.perform_async(6) is not None  # other arguments: another job
    assert dup.set(queue="other").perform_async(5) is not None  # another queue: another job
    assert redis_db.client.llen(keys.queue("default")) == 2


def test_a_job_without_unique_for_is_never_locked(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="uniq.plain")
    def plain() -> None: ...

    assert plain.perform_async()
    assert plain.perform_async()
    assert not redis_db.client.keys("unique:*")


def test_the_lock_is_released_when_the_job_succeeds(app: Henchman, redis_db: RedisDB) -> None:
    ran = Recorder()

    @app.job(name="uniq.ok", unique_for=60)
    def ok() -> None:
        ran.add(redis_db.client.exists(_lock([], "uniq.ok")))

    ok.perform_async()
    with running_worker(app, redis_db.settings()) as launcher:
        wait_for(lambda: ran.items, what="the job")
        wait_for(lambda: settled(redis_db.client, launcher), what="the acknowledgement")
    assert ran.items == [1]  # held while it ran (unique_until="success")
    assert not redis_db.client.exists(_lock([], "uniq.ok"))
    assert ok.perform_async() is not None


def test_unique_until_start_releases_the_lock_before_the_job_runs(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="uniq.start", unique_for=60, unique_until="start")
    def start() -> None:
        ran.add(redis_db.client.exists(_lock([], "uniq.start")))

    start.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: ran.items, what="the job")
    assert ran.items == [0]


def test_the_lock_is_kept_through_retries(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="uniq.retry", unique_for=60)
    def flaky() -> None:
        raise RuntimeError("not yet")

    jid = flaky.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    assert redis_db.client.get(_lock([], "uniq.retry")) == (jid or "").encode()
    assert flaky.perform_async() is None


def test_death_clears_the_lock(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="uniq.dead", unique_for=60, retry=0)
    def doomed() -> None:
        raise RuntimeError("fatal")

    doomed.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
        wait_for(
            lambda: not redis_db.client.exists(_lock([], "uniq.dead")), what="the lock to clear"
        )
    assert doomed.perform_async() is not None


def test_success_never_releases_a_lock_another_job_now_holds(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="uniq.other", unique_for=60)
    def other() -> None:
        redis_db.client.set(_lock([], "uniq.other"), "f" * 24)  # expired, then taken by another
        ran.add(1)

    other.perform_async()
    with running_worker(app, redis_db.settings()) as launcher:
        wait_for(lambda: ran.items, what="the job")
        wait_for(lambda: settled(redis_db.client, launcher), what="the acknowledgement")
    assert redis_db.client.get(_lock([], "uniq.other")) == b"f" * 24


def test_a_scheduled_unique_job_holds_its_lock_for_the_delay_plus_unique_for(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="uniq.later", unique_for=60)
    def later() -> None: ...

    jid = later.perform_in(30)
    assert later.perform_in(30) is None
    assert later.perform_async() is None  # same class, args and queue: the same lock
    ttl = redis_db.client.pttl(_lock([], "uniq.later"))
    assert 85_000 < ttl <= 90_000
    [(job, _)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert job["jid"] == jid


def test_the_lock_expires_after_unique_for(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="uniq.short", unique_for=0.3)
    def short() -> None: ...

    assert short.perform_async() is not None
    assert short.perform_async() is None
    wait_for(lambda: not redis_db.client.exists(_lock([], "uniq.short")), what="the lock TTL")
    assert short.perform_async() is not None


def test_the_async_client_is_unique_too(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="uniq.aio", unique_for=60)
    def aio(n: int) -> None: ...

    async def scenario() -> list[str | None]:
        try:
            return [await aio.aperform_async(1), await aio.aperform_async(1)]
        finally:
            await app.aclient.aclose()

    first, second = asyncio.run(scenario())
    assert first is not None
    assert second is None
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_bulk_pushes_of_unique_jobs_are_refused_and_store_nothing(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="uniq.bulk", unique_for=60)
    def bulk(n: int) -> None: ...

    with pytest.raises(ValueError, match="perform_bulk cannot push unique jobs"):
        bulk.perform_bulk([[1], [2]])
    assert redis_db.client.dbsize() == 0


def test_bad_unique_options_are_refused_at_push_time(app: Henchman, redis_db: RedisDB) -> None:
    with pytest.raises(ValueError, match="unique_until must be"):
        app.enqueue("uniq.bad", unique_for=10, unique_until="later")
    assert redis_db.client.dbsize() == 0


def test_a_unique_job_run_inline_takes_and_releases_no_lock(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    offline = Henchman(redis_db.settings(redis_url="redis://127.0.0.1:1"))  # nothing listens
    ran = Recorder()

    @offline.job(name="uniq.inline", unique_for=60)
    def inline(n: int) -> int:
        ran.add(n)
        return n * 2

    try:
        with caplog.at_level(logging.WARNING):
            assert inline.perform_inline(4) == 8
    finally:
        offline.close()
    assert ran.items == [4]
    assert "unique lock" not in caplog.text  # never tried to reach Redis


def test_a_unique_job_drains_in_the_testing_recorder(app: Henchman) -> None:
    from henchman.testing import recording

    ran = Recorder()

    @app.job(name="uniq.recorded", unique_for=60)
    def recorded(n: int) -> None:
        ran.add(n)

    with recording(app) as recorder:
        recorded.perform_async(1)
        assert recorder.drain() == 1
    assert ran.items == [1]
