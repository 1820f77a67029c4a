"""Flow control composes with reliable fetch: a SIGKILLed worker with two capsules and a paused
queue loses nothing; its running jobs come back through orphan recovery, the paused queue's jobs
stay put in order, and they all run once the queue is unpaused."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson
import pytest

from henchman import keys
from henchman.api import Queue
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for, write_jobs


def push(redis_db: RedisDB, name: str, queue: str, args: list[list[object]]) -> list[str]:
    app = Henchman(redis_db.settings(reliable_push=False))
    try:
        return app.client.push_bulk(name, args, {"queue": queue, "retry": True})
    finally:
        app.close()


def count(redis_db: RedisDB, kind: str, jid: str) -> int:
    return sum(1 for j in redis_db.client.lrange(f"test:{kind}", 0, -1) if j.decode() == jid)


@pytest.mark.timeout(120)
def test_a_killed_worker_with_capsules_and_a_paused_queue_loses_nothing(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    write_jobs(tmp_path)
    args = ("-q", "default", "-q", "held", "--capsule", "unsafe:unsafe:1")
    Queue(redis_db.client, "held").pause()
    held = push(redis_db, "proc_jobs.record", "held", [[n] for n in range(5)])
    (slow_default,) = push(redis_db, "proc_jobs.slow", "default", [[1.5]])
    (slow_unsafe,) = push(redis_db, "proc_jobs.slow", "unsafe", [[1.5]])
    env = fast_env(redis_db.url)
    victim = start_worker(tmp_path, env, *args)
    try:
        wait_for(lambda: redis_db.client.llen("test:started") == 2, what="both slow jobs to start")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert redis_db.client.llen("test:done") == 0
    survivor = start_worker(tmp_path, env, *args, log=tmp_path / "survivor.log")
    try:
        wait_for(
            lambda: count(redis_db, "done", slow_default) and count(redis_db, "done", slow_unsafe),
            timeout=60,
            what="the killed worker's jobs from both capsules to run again",
        )
        queued = [orjson.loads(r)["jid"] for r in redis_db.client.lrange(keys.queue("held"), 0, -1)]
        assert list(reversed(queued)) == held  # untouched, in push order
        Queue(redis_db.client, "held").unpause()
        wait_for(lambda: all(count(redis_db, "done", j) for j in held), what="the held jobs")
    finally:
        assert stop(survivor) == 0
    done = [j.decode() for j in redis_db.client.lrange("test:done", 0, -1)]
    assert sorted(done) == sorted([*held, slow_default, slow_unsafe])
