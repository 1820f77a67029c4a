"""Periodic jobs across leader deaths: five real worker processes, two schedules ticking every
2 s (seconds field; one with missed="run_once", one with "skip"), and the leader SIGKILLed twice.

Every enqueue is recorded atomically with its push in the schedule's history, so counting
history entries counts enqueues (executions could repeat after a kill without a tick being
enqueued twice). Short lease timings (renew 0.3 s, lease 4.5 s) make each leaderless gap long
enough to hold at least two ticks; the scenario runs for about 35 s of schedule time.
"""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from henchman import keys
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, stop, wait_for

JOBS = """
import henchman

@henchman.job
def tick():
    pass

henchman.periodic("*/2 * * * * *", tick, name="catch-up", missed="run_once")
henchman.periodic("*/2 * * * * *", tick, name="skip", missed="skip")
"""
WORKERS = 5
SETTLE = 6.0  # seconds of normal leadership between kills


def _leader(redis_db: RedisDB) -> str | None:
    value = redis_db.client.get(keys.LEADER)
    return value.decode() if value else None


def _history(redis_db: RedisDB, schedule_id: str) -> list[dict[str, Any]]:
    raw = redis_db.client.lrange(keys.periodic_history(schedule_id), 0, -1)
    return [orjson.loads(r) for r in reversed(raw)]


def _kill_leader(redis_db: RedisDB, workers: dict[int, subprocess.Popen[bytes]]) -> float:
    """SIGKILL the leader; return the seconds until another process holds the lease."""
    leader = _leader(redis_db)
    assert leader is not None
    pid = int(leader.split(":")[1])
    workers[pid].send_signal(signal.SIGKILL)
    workers[pid].wait(10)
    killed_at = time.monotonic()
    wait_for(lambda: (_leader(redis_db) or leader) != leader, timeout=30, what="a new leader")
    return time.monotonic() - killed_at


def _accounting(entries: list[dict[str, Any]]) -> tuple[int, int, collections.Counter[float]]:
    """(ticks accounted for, first to last; unique enqueued ticks; enqueues per tick)"""
    per_tick: collections.Counter[float] = collections.Counter(
        float(e["tick"]) for e in entries if e["kind"] in ("tick", "catch_up")
    )
    accounted = sum(int(e["count"]) for e in entries)
    return accounted, len(per_tick), per_tick


@pytest.mark.timeout(150)
def test_leader_killed_twice_no_tick_doubled_and_every_gap_accounted(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    (tmp_path / "periodic_jobs.py").write_text(JOBS)
    env = fast_env(
        redis_db.url,
        HENCHMAN_LEADER_RENEW_INTERVAL="0.3",
        HENCHMAN_LEADER_LEASE="4.5",
        HENCHMAN_LEADER_CHECK_INTERVAL="1",
    )
    workers: dict[int, subprocess.Popen[bytes]] = {}
    logs = []
    for index in range(WORKERS):
        log = tmp_path / f"worker{index}.log"
        logs.append(log)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [henchman_bin(), "run", "-r", "periodic_jobs", "-c", "1"],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        workers[proc.pid] = proc
    failovers = []
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == WORKERS, timeout=60,
                 what="five workers")  # fmt: skip
        wait_for(lambda: len(_history(redis_db, "skip")) >= 2, timeout=30, what="first ticks")
        for _ in range(2):
            time.sleep(SETTLE)
            failovers.append(_kill_leader(redis_db, workers))
        time.sleep(SETTLE)
        stopped_at = time.time()
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in workers.values():
            stop(proc)

    # Entries made while the workers shut down (a follower may lead for a moment) are not part
    # of the scenario.
    catch_up = [e for e in _history(redis_db, "catch-up") if float(e["at"]) <= stopped_at]
    skip = [e for e in _history(redis_db, "skip") if float(e["at"]) <= stopped_at]
    text = "".join(log.read_text() for log in logs)
    for entries in (catch_up, skip):
        first, last = float(entries[0]["tick"]), float(entries[-1]["tick"])
        expected = round((last - first) / 2) + 1
        accounted, _, per_tick = _accounting(entries)
        duplicates = sum(n - 1 for n in per_tick.values())
        print(f"failover seconds {failovers}; ticks {expected}; accounted {accounted}; "
              f"duplicates {duplicates}")  # fmt: skip
        assert duplicates == 0
        assert accounted == expected  # no tick both missed and unrecorded
    # run_once: exactly one catch-up job per leaderless gap, each standing for >= 2 missed ticks
    catch_ups = [e for e in catch_up if e["kind"] == "catch_up"]
    assert len(catch_ups) == 2
    assert all(int(e["count"]) >= 2 for e in catch_ups)
    # skip: each gap logged, naming the skipped ticks by time
    skipped = [e for e in skip if e["kind"] == "skipped"]
    assert len(skipped) == 2
    pattern = r"periodic skip: skipped (\d+) tick\(s\) missed while no process led: (.*)"
    logged = {(int(n), names.strip()) for n, names in re.findall(pattern, text)}
    expected_lines = set()
    for entry in skipped:  # the names are every skipped tick, 2 s apart, ending at the newest
        newest, count = float(entry["tick"]), int(entry["count"])
        times = [datetime.fromtimestamp(newest - 2 * i, UTC).isoformat() for i in range(count)]
        expected_lines.add((count, ", ".join(reversed(times))))
    assert logged == expected_lines
    assert all(f < 30 for f in failovers)
