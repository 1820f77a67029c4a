"""The per-queue cap (a cluster-wide concurrency limit done by a limiter around the jobs, not by
swapping the fetcher): a concurrent limiter of size 2 around queue ``api``, three worker
processes with 5 threads each, 300 jobs, one process SIGKILLed mid-run.

Every run records the server time its slot was granted and, if it finishes, its end. A run
killed mid-job never records an end: its slot stays taken until its lease expires, so its
interval counts until ``admitted + lock_timeout``. From those intervals: never more than 2 at
once, all 300 jobs ran, and the killed holder's slot was in use again after ``lock_timeout``.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for, write_jobs

LOCK_TIMEOUT = 3.0
JOBS = 300

CAP_MODULE = f"""
import json, os, time
import redis
import henchman
from henchman.limits import LimitQueues, queue_admission

CAP = henchman.limiter.concurrent("api-cap", 2, lock_timeout={LOCK_TIMEOUT}, wait_timeout=60)
henchman.default_app().middleware.add(LimitQueues(CAP, ["api"]))
_client = []


def _redis():
    if not _client:
        _client.append(redis.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"]))
    return _client[0]


@henchman.job(queue="api")
def call(n):
    admitted = queue_admission().admitted_at
    run = [henchman.current_job().jid, os.getpid(), admitted]
    _redis().rpush("cap:starts", json.dumps(run))
    time.sleep(float(os.environ.get("CAP_JOB_SECONDS", "0.05")))
    _redis().rpush("cap:ends", json.dumps(run + [time.time()]))
"""


def _records(redis_db: RedisDB, key: str) -> list[list[object]]:
    return [json.loads(raw) for raw in redis_db.client.lrange(key, 0, -1)]


def _peak(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(e, -1) for _, e in intervals])
    holders = peak = 0
    for _, step in events:  # at a tie the end sorts first: the slot was free again
        holders += step
        peak = max(peak, holders)
    return peak


@pytest.mark.timeout(150)
def test_a_concurrent_limiter_caps_a_queue_across_processes_through_a_sigkill(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    write_jobs(tmp_path)  # start_worker always imports the shared recording jobs too
    (tmp_path / "proc_cap.py").write_text(CAP_MODULE)
    pusher = Henchman(redis_db.settings(reliable_push=False))
    try:
        jids = pusher.client.push_bulk(
            "proc_cap.call", [[n] for n in range(JOBS)], {"queue": "api"}
        )
    finally:
        pusher.close()
    workers = []
    for i in range(3):
        # The victim's jobs last longer, so the SIGKILL surely lands while it holds a slot.
        env = fast_env(redis_db.url, CAP_JOB_SECONDS="1" if i == 0 else "0.05")
        log = tmp_path / f"w{i}.log"
        workers.append(
            start_worker(tmp_path, env, "-r", "proc_cap", "-q", "api", "-c", "5", log=log)
        )
    victim = workers[0]
    try:
        wait_for(lambda: redis_db.client.llen("cap:ends") >= 40, timeout=60, what="40 jobs done")

        def victim_holds_a_slot() -> bool:
            ends = {tuple(r[:3]) for r in _records(redis_db, "cap:ends")}
            return any(
                r[1] == victim.pid and tuple(r) not in ends and time.time() - float(r[2]) < 0.5
                for r in _records(redis_db, "cap:starts")
            )

        wait_for(victim_holds_a_slot, timeout=60, what="the victim to take a slot")
        stop(victim, signal.SIGKILL)
        wait_for(
            lambda: {r[0] for r in _records(redis_db, "cap:ends")} >= set(jids),
            timeout=90, what="all 300 jobs to finish",
        )  # fmt: skip
    finally:
        for worker in workers:  # the victim too, if the test failed before killing it
            stop(worker)
    starts = _records(redis_db, "cap:starts")
    ends = {tuple(r[:3]): float(r[3]) for r in _records(redis_db, "cap:ends")}
    killed = [r for r in starts if tuple(r) not in ends]
    assert killed, "no run was killed while holding a slot"
    assert all(r[1] == victim.pid for r in killed)
    intervals = [(float(r[2]), ends.get(tuple(r), float(r[2]) + LOCK_TIMEOUT)) for r in starts]
    peak = _peak(intervals)
    print(f"\nmaximum overlap: {peak} (killed holders: {len(killed)}, runs: {len(starts)})")
    assert peak <= 2
    assert {r[0] for r in starts} == set(jids)
    # The killed slot came back: once its lease expired, two live runs held both slots again.
    expiry = max(float(r[2]) for r in killed) + LOCK_TIMEOUT
    live_after = [
        (a, e)
        for (a, e), r in zip(intervals, starts, strict=True)
        if tuple(r) in ends and a >= expiry
    ]
    back = _first_full(live_after)
    assert back is not None, "the killed holder's slot never came back"
    print(f"slot back {back - expiry:.3f} s after the lease expired")
    assert back - expiry < 2 * LOCK_TIMEOUT


def _first_full(intervals: list[tuple[float, float]]) -> float | None:
    """When two of ``intervals`` first overlap."""
    events = sorted([(a, 1) for a, _ in intervals] + [(e, -1) for _, e in intervals])
    holders = 0
    for at, step in events:
        holders += step
        if holders == 2:
            return at
    return None
