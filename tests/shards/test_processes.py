"""Real worker processes on two shards: ``henchman run`` configured by ``HENCHMAN_SHARDS``, and a
SIGKILLed worker's job on the second shard recovered there by the next worker."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from henchman import keys
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for, write_jobs


def sharded_env(redis_db: RedisDB, other_db: RedisDB) -> dict[str, str]:
    return fast_env(redis_db.url, HENCHMAN_SHARDS=f"reports={other_db.url}")


@pytest.mark.timeout(90)
def test_a_sigkilled_workers_job_on_a_shard_is_recovered_and_run_by_the_next_worker(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB, tmp_path: Path
) -> None:
    write_jobs(tmp_path)
    jid = sharded_app.enqueue("proc_jobs.slow", 2, queue="reports")
    env = sharded_env(redis_db, other_db)
    first = start_worker(tmp_path, env, "-q", "default", "-q", "reports")
    try:
        # The jobs record into the default shard's database (HENCHMAN_REDIS_URL).
        wait_for(lambda: redis_db.client.llen("test:started") == 1, what="the job to start")
        assert other_db.client.hlen(keys.WORKING_LISTS) == 1
    finally:
        stop(first, signal.SIGKILL)
    second = start_worker(tmp_path, env, "-q", "default", "-q", "reports")
    try:
        wait_for(lambda: redis_db.client.llen("test:done") == 1, timeout=60, what="the rerun")
    finally:
        assert stop(second) == 0
    assert [j.decode() for j in redis_db.client.lrange("test:started", 0, -1)] == [jid, jid]
    assert int(other_db.client.get(keys.STAT_RECOVERED) or 0) == 1
    assert not list(other_db.client.scan_iter(match="henchman:working:*", _type="list"))
    assert other_db.client.llen(keys.queue("reports")) == 0
