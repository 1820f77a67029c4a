"""``henchman run -P N``: real child processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from henchman import keys
from henchman.cpus import machine_cpus
from henchman.server.supervisor import is_boot_failure, restart_delay
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, stop, wait_for, write_jobs

#: How long a test waits for worker processes to boot and heartbeat. A supervisor boots its
#: children one after the other (the first must be up before the others start), and on a loaded
#: machine each fresh interpreter importing henchman can take many seconds.
BOOT = 60.0


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_jobs(tmp_path)
    return tmp_path


def start_supervisor(workdir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with open(workdir / "supervisor.log", "ab") as out:
        return subprocess.Popen(
            [henchman_bin(), "run", "-r", "proc_jobs", *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def identities(redis_db: RedisDB) -> set[str]:
    return {m.decode() for m in redis_db.client.smembers(keys.PROCESSES)}


@pytest.mark.timeout(240)  # three boots (two children, one replacement) on a loaded machine
def test_p2_runs_two_workers_restarts_a_killed_one_and_stops_on_term(
    redis_db: RedisDB, workdir: Path
) -> None:
    supervisor = start_supervisor(workdir, fast_env(redis_db.url), "-P", "2")
    try:
        wait_for(lambda: len(identities(redis_db)) == 2, BOOT, what="two worker heartbeats")
        first = identities(redis_db)
        victim = sorted(first)[0]
        os.kill(int(victim.split(":")[1]), signal.SIGKILL)
        # The replacement beats under a new identity; the dead one's hash expires (TTL 3 s).
        wait_for(lambda: len(identities(redis_db) - first) == 1, BOOT, what="a replacement")
    finally:
        assert stop(supervisor) == 0
    wait_for(lambda: not (identities(redis_db) - {victim}), what="children cleaned up")


def test_p2_processes_jobs_in_both_children(redis_db: RedisDB, workdir: Path) -> None:
    from henchman.app import Henchman

    app = Henchman(redis_db.settings(reliable_push=False))
    jids = app.client.push_bulk(
        "proc_jobs.record", [[i] for i in range(2000)], {"queue": "default", "retry": True}
    )
    app.close()
    supervisor = start_supervisor(workdir, fast_env(redis_db.url), "-P", "2")
    try:
        wait_for(lambda: redis_db.client.llen("test:done") >= 2000, BOOT, what="2,000 jobs")
    finally:
        assert stop(supervisor) == 0
    assert {j.decode() for j in redis_db.client.lrange("test:done", 0, -1)} == set(jids)


def test_p2_exits_with_the_childs_code_when_the_app_cannot_boot(
    redis_db: RedisDB, workdir: Path
) -> None:
    (workdir / "broken.py").write_text("import no_such_module_for_the_test\n")
    result = subprocess.run(
        [henchman_bin(), "run", "-r", "broken", "-P", "2"],
        cwd=workdir,
        env=fast_env(redis_db.url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "No module named 'no_such_module_for_the_test'" in result.stderr
    assert "worker process exited with 1 while booting; stopping" in result.stderr
    assert "restarting in" not in result.stderr  # reported at once, not retried with backoff


def test_restart_backoff_and_boot_failure_rules() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4, 10)] == [0.0, 1.0, 2.0, 4.0, 30.0]
    assert is_boot_failure(1, was_up=False, any_up=False)
    assert not is_boot_failure(1, was_up=False, any_up=True)
    assert not is_boot_failure(-9, was_up=False, any_up=False)
    assert not is_boot_failure(1, was_up=True, any_up=True)


def default_env(redis_db: RedisDB) -> dict[str, str]:
    """:func:`fast_env` without its ``-P 1``: the worker picks its process count itself."""
    env = fast_env(redis_db.url)
    del env["HENCHMAN_PROCESSES"]
    return env


@pytest.mark.skipif(machine_cpus() < 2, reason="needs a machine with at least 2 usable CPUs")
def test_by_default_a_worker_runs_one_process_per_usable_cpu(
    redis_db: RedisDB, workdir: Path
) -> None:
    supervisor = start_supervisor(workdir, default_env(redis_db))
    try:
        count = machine_cpus()
        wait_for(lambda: len(identities(redis_db)) == count, BOOT, what=f"{count} heartbeats")
        pids = {int(identity.split(":")[1]) for identity in identities(redis_db)}
        assert supervisor.pid not in pids  # the supervisor runs no jobs itself
    finally:
        assert stop(supervisor) == 0
    log = (workdir / "supervisor.log").read_text()
    assert f"processes: auto, one worker process per CPU this process may use ({count})" in log


def test_by_default_a_worker_limited_to_one_cpu_is_one_process_without_a_supervisor(
    redis_db: RedisDB, workdir: Path
) -> None:
    with open(workdir / "worker.log", "ab") as out:
        worker = subprocess.Popen(
            ["taskset", "-c", str(min(os.sched_getaffinity(0))), henchman_bin(), "run", "-r",
             "proc_jobs"],
            cwd=workdir,
            env=default_env(redis_db),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: len(identities(redis_db)) == 1, BOOT, what="one worker heartbeat")
        assert int(next(iter(identities(redis_db))).split(":")[1]) == worker.pid
    finally:
        assert stop(worker) == 0


@pytest.mark.skipif(machine_cpus() < 2, reason="needs a machine with at least 2 usable CPUs")
def test_by_default_an_app_that_cannot_boot_prints_its_error_once(
    redis_db: RedisDB, workdir: Path
) -> None:
    (workdir / "broken.py").write_text("import no_such_module_for_the_test\n")
    result = subprocess.run(
        [henchman_bin(), "run", "-r", "broken"],
        cwd=workdir,
        env=default_env(redis_db),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("No module named 'no_such_module_for_the_test'") == 1
