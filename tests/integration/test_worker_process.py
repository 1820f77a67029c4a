"""``henchman run`` as a real process: real signals, real exit codes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from henchman import keys
from tests.conftest import RedisDB
from tests.support.worker_process import (
    fast_env,
    henchman_bin,
    start_worker,
    stop,
    wait_for,
    write_jobs,
)


def push(redis_db: RedisDB, name: str, *args: object, queue: str = "default") -> str:
    from henchman import payload as wire

    payload = wire.build(name, args, {"queue": queue, "retry": True}, now=1.0)
    redis_db.client.lpush(keys.queue(queue), wire.encode(payload))
    redis_db.client.sadd(keys.QUEUES, queue)
    return str(payload["jid"])


def identity_of(redis_db: RedisDB) -> str:
    members = redis_db.client.smembers(keys.PROCESSES)
    assert len(members) == 1
    return next(iter(members)).decode()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_jobs(tmp_path)
    return tmp_path


def test_term_requeues_running_jobs_at_the_head_without_using_a_retry(
    redis_db: RedisDB, workdir: Path
) -> None:
    running = [push(redis_db, "proc_jobs.slow", 60) for _ in range(3)]
    worker = start_worker(workdir, fast_env(redis_db.url), "-c", "3", "-t", "1")
    wait_for(lambda: redis_db.client.llen("test:started") == 3, what="3 jobs running")
    waiting = push(redis_db, "proc_jobs.record", 1)
    identity = identity_of(redis_db)

    assert stop(worker) == 0

    queued = [orjson.loads(raw) for raw in redis_db.client.lrange(keys.queue("default"), 0, -1)]
    # The right end is the head: the interrupted jobs come first, before the job that waited.
    assert {job["jid"] for job in queued[-3:]} == set(running)
    assert queued[0]["jid"] == waiting
    assert all("retry_count" not in job for job in queued)
    assert redis_db.client.zcard(keys.RETRY) == 0
    # A clean exit leaves no heartbeat, no working list and no registry entry behind.
    assert not redis_db.client.exists(keys.process(identity))
    assert redis_db.client.scard(keys.PROCESSES) == 0
    assert not redis_db.client.exists(keys.working(identity, "default"))
    assert redis_db.client.hlen(keys.WORKING_LISTS) == 0


def test_interrupted_jobs_run_again_on_the_next_worker(redis_db: RedisDB, workdir: Path) -> None:
    jid = push(redis_db, "proc_jobs.slow", 2)
    worker = start_worker(workdir, fast_env(redis_db.url), "-t", "0.2")
    wait_for(lambda: redis_db.client.llen("test:started") == 1, what="job started")
    assert stop(worker) == 0
    assert redis_db.client.llen(keys.queue("default")) == 1

    again = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(
            lambda: redis_db.client.lrange("test:done", 0, -1) == [jid.encode()],
            what="job completed by the second worker",
        )
    finally:
        assert stop(again) == 0


def test_tstp_quiets_the_worker(redis_db: RedisDB, workdir: Path) -> None:
    worker = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == 1, what="heartbeat")
        identity = identity_of(redis_db)
        worker.send_signal(signal.SIGTSTP)
        wait_for(lambda: redis_db.client.hget(identity, "quiet") == b"true", what="quiet beat")
        push(redis_db, "proc_jobs.record", 1)
        # A quiet worker fetches nothing: the job is still queued after several heartbeats.
        beat = redis_db.client.hget(identity, "beat")
        wait_for(lambda: redis_db.client.hget(identity, "beat") != beat, what="next beat")
        assert redis_db.client.llen(keys.queue("default")) == 1
    finally:
        assert stop(worker) == 0


def test_ttin_dumps_every_thread_stack_to_the_log(redis_db: RedisDB, workdir: Path) -> None:
    log = workdir / "worker.log"
    worker = start_worker(workdir, fast_env(redis_db.url), log=log)
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == 1, what="heartbeat")
        worker.send_signal(signal.SIGTTIN)
        wait_for(lambda: "stack dump" in log.read_text(), what="stack dump in the log")
        assert "henchman-housekeeping" in log.read_text()
    finally:
        assert stop(worker) == 0


@pytest.mark.parametrize("remote", ["TSTP", "TERM"])
def test_remote_signals_through_the_signals_list(
    redis_db: RedisDB, workdir: Path, remote: str
) -> None:
    worker = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: redis_db.client.scard(keys.PROCESSES) == 1, what="heartbeat")
        identity = identity_of(redis_db)
        redis_db.client.lpush(keys.process_signals(identity), remote)
        if remote == "TSTP":
            wait_for(lambda: redis_db.client.hget(identity, "quiet") == b"true", what="quiet")
        else:
            assert worker.wait(20) == 0
    finally:
        stop(worker)


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [henchman_bin(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_redis_url_pointing_nowhere_is_a_one_line_error_with_exit_2(workdir: Path) -> None:
    env = fast_env("redis://:secret@127.0.0.1:1/0")
    result = run_cli("run", "-r", "proc_jobs", cwd=workdir, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "secret" not in result.stderr


def test_unknown_config_key_is_a_one_line_error_with_exit_2(
    redis_db: RedisDB, workdir: Path
) -> None:
    (workdir / "henchman.yml").write_text("concurency: 5\n")
    result = run_cli(
        "run", "-r", "proc_jobs", "-C", "henchman.yml", cwd=workdir, env=fast_env(redis_db.url)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "concurency" in result.stderr
    assert "henchman.yml" in result.stderr


def test_bad_queue_weight_is_a_one_line_error_with_exit_2(redis_db: RedisDB, workdir: Path) -> None:
    result = run_cli(
        "run", "-r", "proc_jobs", "-q", "critical,x", cwd=workdir, env=fast_env(redis_db.url)
    )
    assert result.returncode == 2
    assert "invalid queue weight 'x'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_app_that_fails_to_import_exits_1_with_its_traceback(
    redis_db: RedisDB, workdir: Path
) -> None:
    (workdir / "broken.py").write_text("raise RuntimeError('app cannot boot')\n")
    result = run_cli("run", "-r", "broken", cwd=workdir, env=fast_env(redis_db.url))
    assert result.returncode == 1
    assert "app cannot boot" in result.stderr


def test_python_executable_is_the_venv_one() -> None:
    assert Path(henchman_bin()).exists(), sys.executable
