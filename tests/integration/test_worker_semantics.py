"""Worker semantics that span modules: interruption, client middleware, per-job logging,
working-list registration."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.context import current_job
from henchman.server.launcher import Launcher
from henchman.testing import wait_until
from tests.conftest import RedisDB


def test_interrupted_turns_true_when_a_stop_begins_not_at_the_deadline(redis_db: RedisDB) -> None:
    app = Henchman(redis_db.settings(timeout=30.0))
    seen = threading.Event()
    started = threading.Event()

    @app.job(name="waits_for_interrupt")
    def waits() -> None:
        started.set()
        job = current_job()
        assert job is not None
        while not job.interrupted():
            threading.Event().wait(0.01)
        seen.set()

    launcher = Launcher(app, app.settings)
    launcher.start()
    waits.perform_async()
    assert started.wait(10)
    stopper = threading.Thread(target=launcher.stop)
    stopper.start()
    assert seen.wait(5), "interrupted() stayed false after the stop began"
    stopper.join(30)
    app.close()


def test_client_middleware_added_after_the_first_push_applies(redis_db: RedisDB) -> None:
    app = Henchman(redis_db.settings())
    app.enqueue("first")
    app.client_middleware.append(lambda name, payload, queue: None)
    assert app.enqueue("dropped") is None
    assert redis_db.client.llen(keys.queue("default")) == 1
    app.close()


def test_a_per_job_log_level_shows_lines_while_the_worker_logs_warnings(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    app = Henchman(redis_db.settings())
    ran = threading.Event()

    @app.job(name="chatty", log_level="info")
    def chatty() -> None:
        ran.set()

    logging.getLogger("henchman").setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.WARNING, logger="henchman"):
            caplog.handler.setLevel(logging.DEBUG)
            launcher = Launcher(app, app.settings)
            launcher.start()
            chatty.perform_async()
            assert ran.wait(10)
            wait_until(lambda: any(r.getMessage().startswith("done") for r in caplog.records))
            launcher.stop()
    finally:
        logging.getLogger("henchman").setLevel(logging.NOTSET)
        app.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "henchman.job"]
    assert "start" in messages


def test_the_heartbeat_registers_working_lists_again_after_they_were_recovered(
    redis_db: RedisDB,
) -> None:
    app = Henchman(redis_db.settings())
    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        working = keys.working(launcher.identity, "default")
        assert redis_db.client.hexists(keys.WORKING_LISTS, working)
        redis_db.client.hdel(keys.WORKING_LISTS, working)  # as recovery does after a partition
        wait_until(lambda: redis_db.client.hexists(keys.WORKING_LISTS, working), timeout=10)
    finally:
        launcher.stop()
        app.close()
    assert not redis_db.client.hexists(keys.WORKING_LISTS, working)


def test_a_job_raising_requeue_job_goes_back_to_its_queue_without_a_retry(
    redis_db: RedisDB,
) -> None:
    from henchman.errors import RequeueJob

    app = Henchman(redis_db.settings())
    runs: list[int] = []

    @app.job(name="comes_back")
    def comes_back(step: int) -> None:
        runs.append(step)
        job = current_job()
        assert job is not None
        if step < 3:
            raise RequeueJob({**job.payload, "args": [step + 1]})

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        comes_back.perform_async(1)
        wait_until(lambda: runs == [1, 2, 3], timeout=10)
    finally:
        launcher.stop()
        app.close()
    assert redis_db.client.zcard(keys.RETRY) == 0
    assert redis_db.client.llen(keys.queue("default")) == 0
    assert int(redis_db.client.get(keys.STAT_FAILED) or 0) == 0


def test_middleware_with_a_flush_method_is_flushed_every_beat_and_at_stop(
    redis_db: RedisDB,
) -> None:
    from henchman.middleware.chain import Middleware

    flushed = threading.Event()

    class Buffered(Middleware):
        name = "buffered"

        def flush(self, client: object) -> None:
            flushed.set()

    app = Henchman(redis_db.settings())
    app.middleware.add(Buffered())
    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        assert flushed.wait(10)
    finally:
        launcher.stop()
        app.close()


def test_concurrency_bounds_sync_jobs_even_when_async_workers_fetch_them(
    redis_db: RedisDB,
) -> None:
    app = Henchman(redis_db.settings(concurrency=2, async_concurrency=20))
    lock = threading.Lock()
    state = {"running": 0, "peak": 0, "done": 0}

    @app.job(name="bounded_sync")
    def bounded() -> None:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        threading.Event().wait(0.05)
        with lock:
            state["running"] -= 1
            state["done"] += 1

    @app.job(name="unrelated_async")
    async def unrelated() -> None:
        return None

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        bounded.perform_bulk([[]] * 20)
        wait_until(lambda: state["done"] == 20, timeout=30)
    finally:
        launcher.stop()
        app.close()
    assert state["peak"] <= 2


def test_async_workers_never_fetch_more_sync_jobs_than_the_capsule_has_slots(
    redis_db: RedisDB,
) -> None:
    # Async workers hand sync jobs to the threads and wait until a thread takes each one:
    # without that wait they fetched the whole queue into the working list (every
    # acknowledgement then scanned a list of thousands, and Redis answered BUSY).
    app = Henchman(redis_db.settings(concurrency=2, async_concurrency=5))
    done = []

    @app.job(name="short_sync")
    def short() -> None:
        threading.Event().wait(0.002)
        done.append(1)

    @app.job(name="idle_async")
    async def idle() -> None:
        return None

    short.perform_bulk([[]] * 1000)
    launcher = Launcher(app, app.settings)
    launcher.start()
    peak = 0
    deadline = time.monotonic() + 60
    try:
        while len(done) < 1000 and time.monotonic() < deadline:
            for key in redis_db.client.hkeys(keys.WORKING_LISTS):
                peak = max(peak, redis_db.client.llen(key))
            threading.Event().wait(0.005)
    finally:
        launcher.stop()
        app.close()
    assert len(done) == 1000
    # 2 threads + 5 async slots, plus acknowledgements still riding on the next fetch.
    assert peak <= 2 * (2 + 5)
