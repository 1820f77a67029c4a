"""A worker's main loop takes signals at any moment: a storm of them never wedges it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from henchman import keys
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, wait_for, write_jobs


def test_a_worker_still_stops_on_term_after_a_storm_of_signals(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    # Each signal's handler runs in the main thread between two bytecodes, often in the middle
    # of the main loop waiting for requests. A handler that took the request queue's lock there
    # (a queue.Queue's put) deadlocked the main thread; a worker that got TERM at that moment
    # never stopped. Thousands of TSTPs (quiet: harmless, idempotent) make that moment certain.
    write_jobs(tmp_path)
    worker = start_worker(tmp_path, fast_env(redis_db.url))
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == 1, what="the worker's heartbeat")
        for _ in range(20_000):
            os.kill(worker.pid, signal.SIGTSTP)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail("the worker did not stop within 60 s of TERM: its main loop is wedged")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert code == 0
    assert "quieting: no new jobs will be fetched" in (tmp_path / "worker.log").read_text()
