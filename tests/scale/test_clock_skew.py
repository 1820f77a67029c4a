"""Clock skew between hosts: detected against the server's TIME and logged; nothing else changes."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from henchman.app import Henchman
from henchman.server.clock_skew import SkewWatch, skew_seconds
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for, write_jobs

# Loaded by the worker's interpreter before anything else: its time.time runs SHIFT s ahead, as
# on a host whose clock is wrong (every later import binds the shifted function).
SITECUSTOMIZE = """
import os, time
_real = time.time
_shift = float(os.environ["TEST_CLOCK_SHIFT"])
time.time = lambda: _real() + _shift
"""


def test_skew_is_server_time_minus_the_middle_of_the_round_trip() -> None:
    assert skew_seconds((1000, 500_000), 990.0, 991.0) == pytest.approx(10.0)


def test_a_skew_above_five_seconds_is_logged_once_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = SkewWatch()
    with caplog.at_level(logging.INFO, logger="henchman"):
        for skew in (0.5, -4.9, -7.0, -8.0, -9.0, 1.0, 2.0):
            watch.observe(skew)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("clock skew: the local clock is 7.0 s ahead of the Redis server")
    assert lines[1].startswith("clock skew back within 5 s")


@pytest.mark.parametrize(("shift", "warned"), [(30, True), (3, False)])
def test_a_worker_with_a_shifted_clock_runs_jobs_and_warns_only_above_five_seconds(
    redis_db: RedisDB, tmp_path: Path, shift: int, warned: bool
) -> None:
    write_jobs(tmp_path)
    hook = tmp_path / "clock_hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    app = Henchman(redis_db.settings(reliable_push=False))
    jids = app.client.push_bulk(
        "proc_jobs.record", [[i] for i in range(50)], {"queue": "default", "retry": False}
    )
    app.close()
    env = fast_env(redis_db.url, TEST_CLOCK_SHIFT=str(shift), PYTHONPATH=str(hook))
    log = tmp_path / "worker.log"
    worker = start_worker(tmp_path, env, log=log)
    client = redis_db.client
    try:
        wait_for(lambda: client.llen("test:done") == 50, timeout=60, what="50 jobs done")
        wait_for(lambda: client.scard("processes") == 1, what="the process registered")
    finally:
        assert stop(worker) == 0
    assert set(client.lrange("test:done", 0, -1)) == {j.encode() for j in jids}
    text = log.read_text()
    assert text.count("clock skew:") == (1 if warned else 0), text[-2000:]
    if warned:
        assert "the local clock is 30." in text or "the local clock is 29." in text


def test_the_shift_hook_really_shifts_the_clock(tmp_path: Path) -> None:
    """Guards the test above: without a working hook it would prove nothing."""
    hook = tmp_path / "clock_hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    import sys
    import time

    out = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        env={"PYTHONPATH": str(hook), "TEST_CLOCK_SHIFT": "30"},
        capture_output=True,
        check=True,
    )
    assert float(out.stdout) - time.time() == pytest.approx(30, abs=5)
