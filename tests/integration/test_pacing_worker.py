"""Pacing in a running worker: short jobs stay on few threads, a long job holds nobody back."""

from __future__ import annotations

import threading
import time
from typing import Any

from henchman.app import Henchman
from henchman.server.fetch import ReliableFetcher
from henchman.server.launcher import Launcher
from henchman.server.pacing import Pacing
from tests.conftest import RedisDB
from tests.support.worker_process import wait_for


def paced(hot_job: float, wait: float) -> Any:
    """A fetcher factory: the reliable fetcher with the given pacing limits (as on several
    CPUs, however the test runs)."""

    def factory(*args: Any, **kwargs: Any) -> ReliableFetcher:
        pacing = Pacing(hot_job=hot_job, wait=wait, pinned=lambda: False)
        return ReliableFetcher(*args, **kwargs, pacing=pacing)

    return factory


class Running:
    """Counts the jobs running at once and remembers the most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.done = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1
            self.done += 1


def test_the_surplus_of_a_round_of_short_jobs_runs_on_the_thread_that_fetched_it(
    redis_db: RedisDB,
) -> None:
    app = Henchman(redis_db.settings(concurrency=4))
    app.fetcher_factory = paced(hot_job=10.0, wait=30.0)  # every job counts as short
    running = Running()

    @app.job(name="pacing.short")
    def short() -> None:
        with running:
            time.sleep(0.02)

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        time.sleep(0.3)  # every thread idle: the next round takes one job per idle thread
        app.client.push_bulk("pacing.short", [[] for _ in range(12)], {"queue": "default"})
        wait_for(lambda: running.done == 12, what="the 12 jobs")
    finally:
        launcher.stop()
        app.close()
    # Unpaced, the idle threads would each take one job of a round: 4 at once. Paced, the
    # owner runs its round's jobs one after another; only the next round's owner overlaps it.
    assert running.most <= 2


def test_a_round_whose_owner_is_stuck_in_a_long_job_is_shared_after_the_wait(
    redis_db: RedisDB,
) -> None:
    app = Henchman(redis_db.settings(concurrency=3))
    app.fetcher_factory = paced(hot_job=10.0, wait=0.05)
    all_running = threading.Barrier(3, timeout=20)

    @app.job(name="pacing.together")
    def together() -> None:
        all_running.wait()  # finishes only once all three jobs run at the same time

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        time.sleep(0.3)
        app.client.push_bulk("pacing.together", [[] for _ in range(3)], {"queue": "default"})
        wait_for(lambda: app.client.redis.llen("queue:default") == 0, what="the fetch")
        wait_for(lambda: not launcher.capsules[0].busy, what="the three jobs")
    finally:
        launcher.stop()
        app.close()
    assert not all_running.broken


def test_a_quiet_worker_lets_every_thread_finish_a_fetched_round(redis_db: RedisDB) -> None:
    app = Henchman(redis_db.settings(concurrency=3))
    app.fetcher_factory = paced(hot_job=10.0, wait=60.0)  # the owner's surplus is never shared
    all_running = threading.Barrier(3, timeout=20)

    @app.job(name="pacing.together")
    def together() -> None:
        all_running.wait()

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        time.sleep(0.3)
        app.client.push_bulk("pacing.together", [[] for _ in range(3)], {"queue": "default"})
        wait_for(lambda: launcher.capsules[0].busy >= 2, what="two jobs running")
        launcher.capsules[0].quiet()  # TSTP: no more fetching; what was fetched still runs
        wait_for(lambda: not launcher.capsules[0].busy, what="the three jobs")
    finally:
        launcher.stop()
        app.close()
    assert not all_running.broken
