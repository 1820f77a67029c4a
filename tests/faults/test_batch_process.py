"""Batches with real worker processes and SIGKILL: a 10,000-job batch where 1 % of the jobs
fail once fires ``complete`` and ``success`` exactly once, after the last job, with counts that
are right at every poll — also when the worker is SIGKILLed twice in the middle."""

from __future__ import annotations

import collections
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import henchman
from henchman.api import BatchStatus
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for

N = 10_000
FAILING = N // 100

JOBS = """
import os, time
import orjson, redis
import henchman

_client = None


def _redis():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"])
    return _client


@henchman.job(retry=5)
def item(n):
    jid = henchman.current_job().jid
    _redis().rpush("test:ran", jid)
    if n % 100 == 0 and _redis().set("test:failed:" + jid, 1, nx=True):
        raise ValueError("fails once")


@item.retry_in
def _soon(count, exc, payload):
    return 0.0


@henchman.job
def on_event(status, options):
    r = _redis()
    ran = r.lrange("test:ran", 0, -1)
    r.rpush("test:callbacks", orjson.dumps({
        "event": status["event"], "jid": henchman.current_job().jid, "status": status,
        "ran": len(ran), "distinct": len(set(ran)),
    }))
"""


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    (tmp_path / "proc_jobs.py").write_text(JOBS)
    return tmp_path


def create_batch(redis_db: RedisDB) -> tuple[str, list[str]]:
    app = Henchman(redis_db.settings(reliable_push=False))
    try:
        app.job(name="proc_jobs.on_event")(lambda status, options: None)
        batch = henchman.Batch(description="ten thousand", app=app)
        for event in ("complete", "success", "death"):
            batch.on(event, "proc_jobs.on_event", {"event": event})
        with batch.jobs():
            jids = app.client.push_bulk("proc_jobs.item", [[n] for n in range(N)], {
                "queue": "default", "retry": 5,
            })  # fmt: skip
        return batch.bid, jids
    finally:
        app.close()


class Poller:
    """Reads the status again and again; every reading must be consistent."""

    def __init__(self, redis_db: RedisDB, bid: str) -> None:
        self.redis_db, self.bid = redis_db, bid
        self.last_pending = N
        self.polls = 0

    def poll(self) -> BatchStatus:
        status = BatchStatus(self.bid, self.redis_db.client)
        self.polls += 1
        assert status.total == N
        assert 0 <= status.failures <= min(status.pending, FAILING)
        assert status.pending <= self.last_pending, "pending went up"
        self.last_pending = status.pending
        if status.success:
            assert status.pending == 0
        if status.complete:
            assert status.pending == status.failures
        assert not status.dead
        return status

    def until(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.poll()):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def ran(redis_db: RedisDB) -> int:
    return int(redis_db.client.llen("test:ran"))


def callbacks(redis_db: RedisDB) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in redis_db.client.lrange("test:callbacks", 0, -1)]


def assert_fired_once_after_the_last_job(redis_db: RedisDB, jids: list[str]) -> None:
    found = callbacks(redis_db)
    by_event = collections.defaultdict(set)
    for call in found:
        by_event[call["event"]].add(call["jid"])
    assert {event: len(j) for event, j in by_event.items()} == {"complete": 1, "success": 1}
    executed = collections.Counter(j.decode() for j in redis_db.client.lrange("test:ran", 0, -1))
    assert set(executed) == set(jids), "every job ran"
    for call in found:
        assert call["distinct"] == N  # every job had run when the callback ran
        if call["event"] == "success":
            assert call["status"]["pending"] == 0
            assert call["ran"] >= N + FAILING  # ... and every retry too


@pytest.mark.timeout(240)
def test_ten_thousand_job_batch_fires_each_callback_once(redis_db: RedisDB, jobs_dir: Path) -> None:
    bid, jids = create_batch(redis_db)
    poller = Poller(redis_db, bid)
    worker = start_worker(jobs_dir, fast_env(redis_db.url))
    try:
        poller.until(lambda s: s.success, timeout=180, what="the batch's success")
        wait_for(lambda: len(callbacks(redis_db)) >= 2, timeout=30, what="both callbacks")
        time.sleep(1.0)  # a duplicate would show up now
    finally:
        assert stop(worker) == 0
    assert poller.polls > 10
    assert_fired_once_after_the_last_job(redis_db, jids)


@pytest.mark.timeout(300)
def test_batch_survives_two_sigkills(redis_db: RedisDB, jobs_dir: Path) -> None:
    bid, jids = create_batch(redis_db)
    poller = Poller(redis_db, bid)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for fraction in (0.3, 0.65):
            workers.append(start_worker(jobs_dir, fast_env(redis_db.url)))
            poller.until(lambda s, f=fraction: ran(redis_db) >= N * f, 180, f"{fraction:.0%} ran")
            stop(workers[-1], signal.SIGKILL)
        workers.append(start_worker(jobs_dir, fast_env(redis_db.url)))
        poller.until(lambda s: s.success, timeout=200, what="the batch's success")
        wait_for(lambda: len(callbacks(redis_db)) >= 2, timeout=30, what="both callbacks")
        time.sleep(1.0)
    finally:
        for worker in workers:
            stop(worker, signal.SIGKILL if worker is not workers[-1] else signal.SIGTERM)
    assert_fired_once_after_the_last_job(redis_db, jids)
