"""Clock skew between worker processes: two workers whose clocks disagree by 20
minutes drain one queue and one schedule together. Liveness is decided by Redis-side TTLs, never
by comparing clocks, so neither takes the other for dead; due jobs move atomically, so none runs
twice; none is lost.

The skew is made in the worker process itself: a small launcher shifts ``time.time`` before
henchman is imported (every clock henchman reads defaults to it).
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path

from henchman import keys
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, stop, wait_for

OPTIONS = {"queue": "default", "retry": True}
SKEWED = """
import sys, time
_real = time.time
_offset = float(sys.argv.pop(1))
time.time = lambda: _real() + _offset
from henchman.cli.main import entry
entry(sys.argv[1:])
"""


def start_skewed_worker(
    workdir: Path, env: dict[str, str], offset: float
) -> subprocess.Popen[bytes]:
    script = workdir / "skewed_henchman.py"
    script.write_text(SKEWED)
    with open(workdir / f"worker{offset:+.0f}.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, str(script), str(offset), "run", "-r", "proc_jobs"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_two_workers_with_clocks_20_minutes_apart_run_every_job_once(
    redis_db: RedisDB, workdir: Path
) -> None:
    app = Henchman(redis_db.settings(reliable_push=False))
    now = time.time()
    queued = app.client.push_bulk("proc_jobs.record", [[i] for i in range(2000)], OPTIONS)
    due = app.client.push_bulk("proc_jobs.record", [[i] for i in range(50)], OPTIONS, at=now - 1)
    later = app.client.push_bulk(
        "proc_jobs.record", [[i] for i in range(20)], OPTIONS, at=now + 3600
    )
    app.close()
    env = fast_env(redis_db.url)
    workers = [start_skewed_worker(workdir, env, offset) for offset in (600.0, -600.0)]
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == 2, what="both workers")
        beats = [
            float(redis_db.client.hget(keys.process(identity.decode()), "beat") or 0)
            for identity in redis_db.client.smembers(keys.PROCESSES)
        ]
        assert max(beats) - min(beats) > 1000, f"the skew is in force: {beats}"
        expected = set(queued + due)
        wait_for(lambda: redis_db.client.llen("test:done") >= len(expected), timeout=60,
                 what="every queued and due job")  # fmt: skip
        time.sleep(2)  # a few more heartbeats and orphan checks with both clocks
    finally:
        for worker in workers:
            assert stop(worker) == 0
    done = collections.Counter(j.decode() for j in redis_db.client.lrange("test:done", 0, -1))
    lost = expected - set(done)
    twice = [jid for jid, n in done.items() if n > 1]
    print(f"clock skew: {len(done)} executed, {len(lost)} lost, {len(twice)} run twice")
    assert not lost
    assert not twice
    assert set(done) == expected
    assert redis_db.client.zcard(keys.SCHEDULE) == len(later)  # not due on either clock
    assert int(redis_db.client.get(keys.STAT_RECOVERED) or 0) == 0, "a live worker was 'recovered'"
