"""The in-process test worker against the real embedded server."""

from __future__ import annotations

import threading

from henchman import Henchman, keys
from henchman.testing import wait_until
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB


def test_worker_runs_sync_and_async_jobs_and_stops_cleanly(
    app: Henchman, redis_db: RedisDB
) -> None:
    done: list[str] = []

    @app.job
    def sync_job(n: int) -> None:
        done.append(f"sync {n}")

    @app.job
    async def async_job(n: int) -> None:
        done.append(f"async {n}")

    before = threading.active_count()
    with TestWorker(app) as worker:
        sync_job.perform_async(1)
        async_job.perform_async(2)
        sync_job.perform_in(0.2, 3)
        worker.wait_until(lambda: len(done) == 3, timeout=10)
        assert redis_db.client.scard(keys.PROCESSES) == 1

    assert sorted(done) == ["async 2", "sync 1", "sync 3"]
    assert redis_db.client.scard(keys.PROCESSES) == 0
    wait_until(lambda: threading.active_count() <= before, timeout=10)


def test_stop_without_start_is_harmless(app: Henchman) -> None:
    TestWorker(app).stop()
