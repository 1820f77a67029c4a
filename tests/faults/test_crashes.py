"""Crash faults: SIGKILLed workers lose nothing; TERM requeues; poison pills.

Every case counts executed and lost jobs by jid. Background loops run on test intervals (heartbeat
0.5 s, process TTL 3 s, orphan check 1 s) so recovery happens in seconds instead of minutes.
"""

from __future__ import annotations

import base64
import collections
import signal
import subprocess
from pathlib import Path

import orjson

from henchman import keys
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import (
    fast_env,
    fault_moment,
    henchman_bin,
    start_worker,
    stop,
    wait_for,
)

OPTIONS = {"queue": "default", "retry": True}


def push_many(redis_db: RedisDB, name: str, count: int) -> list[str]:
    app = Henchman(redis_db.settings(reliable_push=False))
    try:
        return app.client.push_bulk(name, [[i] for i in range(count)], OPTIONS)
    finally:
        app.close()


def executions(redis_db: RedisDB, kind: str = "done") -> collections.Counter[str]:
    return collections.Counter(j.decode() for j in redis_db.client.lrange(f"test:{kind}", 0, -1))


def working_jids(redis_db: RedisDB) -> set[str]:
    """Jids in every working list (fetched and not acknowledged)."""
    jids: set[str] = set()
    for key in redis_db.client.hkeys(keys.WORKING_LISTS):
        for raw in redis_db.client.lrange(key, 0, -1):
            jids.add(orjson.loads(raw)["jid"])
    return jids


def assert_all_ran_once_except(redis_db: RedisDB, expected: list[str], at_risk: set[str]) -> None:
    done = executions(redis_db)
    lost = set(expected) - set(done)
    duplicated = {jid for jid, n in done.items() if n > 1}
    assert not lost, f"{len(lost)} job(s) lost"
    assert duplicated <= at_risk, f"{len(duplicated - at_risk)} unexpected duplicate(s)"
    assert redis_db.client.llen(keys.queue("default")) == 0


def test_sigkill_mid_drain_loses_nothing(redis_db: RedisDB, workdir: Path) -> None:
    jids = push_many(redis_db, "proc_jobs.record", 5000)
    worker = start_worker(workdir, fast_env(redis_db.url))
    kill_at = fault_moment(200, 3500)
    wait_for(lambda: redis_db.client.llen("test:done") >= kill_at, what=f"{kill_at} jobs done")
    stop(worker, signal.SIGKILL)
    at_risk = working_jids(redis_db)

    replacement = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: len(executions(redis_db)) == 5000, timeout=120, what="all 5,000 jobs")
        # The killed worker's jobs may all have finished before the kill (their acknowledgement
        # not yet sent): then every job has run before recovery empties the orphaned lists.
        wait_for(lambda: not working_jids(redis_db), timeout=30, what="orphans recovered")
    finally:
        assert stop(replacement) == 0
    assert_all_ran_once_except(redis_db, jids, at_risk)
    assert int(redis_db.client.get(keys.STAT_RECOVERED) or 0) == len(at_risk)


def test_several_workers_killed_together_lose_nothing(redis_db: RedisDB, workdir: Path) -> None:
    jids = push_many(redis_db, "proc_jobs.record", 5000)
    workers = [
        start_worker(workdir, fast_env(redis_db.url), log=workdir / f"w{i}.log") for i in range(2)
    ]
    wait_for(lambda: redis_db.client.llen("test:done") >= 1500, what="1,500 jobs done")
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
    for worker in workers:
        worker.wait(10)
    at_risk = working_jids(redis_db)

    replacement = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: len(executions(redis_db)) == 5000, timeout=120, what="all 5,000 jobs")
    finally:
        assert stop(replacement) == 0
    assert_all_ran_once_except(redis_db, jids, at_risk)


def test_term_with_long_jobs_requeues_them_at_the_head_and_they_run_again(
    redis_db: RedisDB, workdir: Path
) -> None:
    app = Henchman(redis_db.settings(reliable_push=False))
    long_jobs = app.client.push_bulk("proc_jobs.slow", [[3]] * 10, OPTIONS)
    worker = start_worker(workdir, fast_env(redis_db.url), "-c", "10", "-t", "0.5")
    wait_for(lambda: redis_db.client.llen("test:started") == 10, what="10 jobs running")
    # Queued behind the running jobs while every thread is busy: they must stay behind them.
    waiting = app.client.push_bulk("proc_jobs.record", [[i] for i in range(5)], OPTIONS)
    app.close()
    assert stop(worker) == 0
    queued = [orjson.loads(r)["jid"] for r in redis_db.client.lrange(keys.queue("default"), 0, -1)]
    head_first = list(reversed(queued))  # the head (next to run) is the right end
    assert head_first == long_jobs + waiting, "requeued jobs at the head, in their fetch order"
    assert redis_db.client.zcard(keys.RETRY) == 0

    again = start_worker(workdir, fast_env(redis_db.url), "-c", "10")
    try:
        wait_for(lambda: len(executions(redis_db)) == 15, timeout=60, what="15 jobs done")
    finally:
        assert stop(again) == 0
    assert set(executions(redis_db)) == set(long_jobs + waiting)


def test_a_job_that_kills_its_process_is_dead_after_three_recoveries(
    redis_db: RedisDB, workdir: Path
) -> None:
    app = Henchman(redis_db.settings(reliable_push=False))
    pill = app.client.push("proc_jobs.suicide", [], OPTIONS)
    others = app.client.push_bulk("proc_jobs.record", [[i] for i in range(50)], OPTIONS)
    app.close()
    # The test plays supervisor: restart the worker whenever the pill kills it.
    restarts = 0
    worker = start_worker(workdir, fast_env(redis_db.url), "-c", "1")
    try:
        while redis_db.client.zcard(keys.DEAD) == 0:
            if worker.poll() is not None:
                restarts += 1
                assert restarts <= 5, "the poison pill kept killing workers"
                worker = start_worker(workdir, fast_env(redis_db.url), "-c", "1")
            wait_for(
                lambda w=worker: w.poll() is not None or redis_db.client.zcard(keys.DEAD) > 0,
                timeout=60,
                what="a crash or the dead record",
            )
        wait_for(lambda: len(executions(redis_db)) == 50, timeout=60, what="other jobs done")
    finally:
        stop(worker)
    dead = orjson.loads(redis_db.client.zrange(keys.DEAD, 0, -1)[0])
    assert dead["jid"] == pill
    assert dead["error_class"] == "henchman.PoisonPill"
    assert "died 3 times" in dead["error_message"]
    assert executions(redis_db, "started")[pill] == 3
    assert set(executions(redis_db)) == set(others)


def test_a_corrupt_payload_in_a_busy_queue_goes_dead_and_disturbs_nothing(
    redis_db: RedisDB, workdir: Path
) -> None:
    first = push_many(redis_db, "proc_jobs.record", 500)
    redis_db.client.lpush(keys.queue("default"), b"{not json\xff")
    second = push_many(redis_db, "proc_jobs.record", 500)
    worker = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: len(executions(redis_db)) == 1000, what="1,000 good jobs")
        wait_for(lambda: redis_db.client.zcard(keys.DEAD) == 1, what="the dead record")
    finally:
        assert stop(worker) == 0
    assert_all_ran_once_except(redis_db, first + second, set())
    dead = orjson.loads(redis_db.client.zrange(keys.DEAD, 0, -1)[0])
    assert dead["error_message"].startswith("payload is not valid JSON")
    assert dead["raw_payload"] == b"{not json\xff".decode("utf-8", errors="replace")
    assert base64.b64decode(dead["raw_payload_base64"]) == b"{not json\xff"


def test_henchman_stats_shows_the_recovered_count(redis_db: RedisDB, workdir: Path) -> None:
    redis_db.client.set(keys.STAT_RECOVERED, 7)
    result = subprocess.run(
        [henchman_bin(), "stats"],
        env=fast_env(redis_db.url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Recovered:" in result.stdout
    assert result.stdout.split("Recovered:")[1].split()[0] == "7"
