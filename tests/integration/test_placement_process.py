"""CPU placement of real worker processes (``cpu_affinity``, henchman.server.placement).

Affinities are read from the kernel (``sched_getaffinity`` of every thread), never from henchman.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.server import placement
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, start_worker, stop, wait_for

ALLOWED = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()

pytestmark = pytest.mark.skipif(
    not placement.supported() or len(ALLOWED) < 2, reason="needs Linux and at least 2 CPUs"
)

SPAWN_JOB = """

import subprocess

@henchman.job
def spawn():
    child = subprocess.Popen(["sleep", "60"])
    _redis().set("test:child", child.pid)
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    from tests.support.worker_process import write_jobs

    path = write_jobs(tmp_path)
    path.write_text(path.read_text() + SPAWN_JOB)
    return tmp_path


def thread_cpus(pid: int) -> list[frozenset[int]]:
    """The CPU set of every thread of ``pid``."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            out.append(frozenset(os.sched_getaffinity(int(tid))))
    return out


def on_one_cpu(pid: int) -> int | None:
    """The CPU every thread of ``pid`` is pinned to, if they all share a single one."""
    sets = set(thread_cpus(pid))
    if len(sets) == 1:
        (cpus,) = sets
        if len(cpus) == 1:
            return next(iter(cpus))
    return None


def env_for(redis_db: RedisDB, **extra: str) -> dict[str, str]:
    return fast_env(redis_db.url, HENCHMAN_PLACEMENT_INTERVAL="0.2", **extra)


def wait_registered(redis_db: RedisDB, count: int = 1) -> list[int]:
    """Pids of the live worker processes once ``count`` have beaten."""
    found: list[int] = []

    def registered() -> bool:
        found[:] = [int(m.decode().split(":")[1]) for m in redis_db.client.smembers(keys.PROCESSES)]
        return len(found) == count

    wait_for(registered, what=f"{count} worker heartbeat(s)")
    return found


def placement_of(redis_db: RedisDB, pid: int) -> str:
    """The placement the process's last heartbeat reported."""
    for identity in redis_db.client.smembers(keys.PROCESSES):
        if int(identity.decode().split(":")[1]) == pid:
            return (redis_db.client.hget(identity, "placement") or b"").decode()
    return ""


def push(redis_db: RedisDB, name: str, args_list: list[list[object]]) -> None:
    app = Henchman(redis_db.settings(reliable_push=False))
    app.client.push_bulk(name, args_list, {"queue": "default"})
    app.close()


def short_jobs(redis_db: RedisDB, count: int = 5 * placement.PIN_AFTER) -> None:
    """Push ``count`` short jobs (each records its run in Redis)."""
    push(redis_db, "proc_jobs.record", [[i] for i in range(count)])


def short_jobs_until(
    redis_db: RedisDB, done: Callable[[], bool], what: str, timeout: float = 120.0
) -> int:
    """Feed short jobs, a batch of 5 x PIN_AFTER whenever the queue is empty, until ``done()``;
    how many were pushed. No fixed number is enough: on a loaded machine a short job now and
    then waits 20 ms for a CPU, which makes it long by its wall time and restarts the count."""
    pushed = 0
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        if redis_db.client.llen(keys.queue("default")) == 0:
            short_jobs(redis_db)
            pushed += 5 * placement.PIN_AFTER
        time.sleep(0.05)
    return pushed


def test_auto_pins_all_threads_to_one_cpu_after_short_jobs_and_frees_processes_jobs_start(
    redis_db: RedisDB, workdir: Path
) -> None:
    worker = start_worker(workdir, env_for(redis_db), "--cpu-affinity", "auto")
    child = 0
    try:
        (pid,) = wait_registered(redis_db)
        assert set(thread_cpus(pid)) == {ALLOWED}  # unpinned until jobs show themselves short
        short_jobs_until(redis_db, lambda: on_one_cpu(pid) is not None, "threads on one CPU")
        assert len(thread_cpus(pid)) >= 11  # main, 10 worker threads, housekeeping: all pinned
        Henchman(redis_db.settings(reliable_push=False)).client.push(
            "proc_jobs.spawn", [], {"queue": "default"}
        )
        wait_for(lambda: redis_db.client.get("test:child") is not None, what="the job's child")
        child = int(redis_db.client.get("test:child") or 0)
        # Inherited the pin at fork; the next placement tick gives it every allowed CPU back.
        wait_for(
            lambda: frozenset(os.sched_getaffinity(child)) == ALLOWED,
            timeout=10,
            what="the job's child process on all CPUs",
        )
        assert on_one_cpu(pid) is not None
    finally:
        assert stop(worker) == 0
        if child:
            os.kill(child, 9)


def test_off_leaves_every_thread_on_every_cpu_and_says_so(redis_db: RedisDB, workdir: Path) -> None:
    worker = start_worker(workdir, env_for(redis_db), "--cpu-affinity", "off")
    try:
        (pid,) = wait_registered(redis_db)
        short_jobs(redis_db)
        wait_for(lambda: redis_db.client.llen("test:done") >= 5 * placement.PIN_AFTER, what="jobs")
        assert set(thread_cpus(pid)) == {ALLOWED}
        assert placement_of(redis_db, pid) == "off"
    finally:
        assert stop(worker) == 0


def test_the_default_is_auto_and_logs_and_reports_its_pin(redis_db: RedisDB, workdir: Path) -> None:
    log = workdir / "auto.log"
    env = env_for(redis_db, HENCHMAN_HEARTBEAT_INTERVAL="0.2")
    worker = start_worker(workdir, env, log=log)
    try:
        (pid,) = wait_registered(redis_db)
        wait_for(lambda: placement_of(redis_db, pid).startswith("auto: CPUs "), what="the beat")
        short_jobs_until(redis_db, lambda: on_one_cpu(pid) is not None, "threads on one CPU")
        cpu = on_one_cpu(pid)
        wait_for(lambda: placement_of(redis_db, pid) == f"auto: CPU {cpu}", what="the beat")
        assert f"INFO: cpu_affinity auto: pinned to CPU {cpu}: the last " in log.read_text()
    finally:
        assert stop(worker) == 0


@pytest.mark.parametrize(("job", "args"), [("proc_jobs.nap", [0.05]), ("proc_jobs.burn", [])])
def test_a_long_job_lets_the_threads_go_at_once_and_says_why(
    redis_db: RedisDB, workdir: Path, job: str, args: list[object]
) -> None:
    (workdir / "proc_jobs.py").write_text(
        (workdir / "proc_jobs.py").read_text()
        + "\n\n@henchman.job\ndef burn():\n    import hashlib\n"
        + "    hashlib.sha256(b'x' * 8_000_000).digest()\n"
    )
    log = workdir / "auto.log"
    worker = start_worker(workdir, env_for(redis_db), log=log)
    try:
        (pid,) = wait_registered(redis_db)
        short_jobs_until(redis_db, lambda: on_one_cpu(pid) is not None, "threads on one CPU")
        push(redis_db, job, [args])  # long by its wall time (a nap) or by its CPU (hashing)
        wait_for(lambda: set(thread_cpus(pid)) == {ALLOWED}, what="threads on every CPU")
        assert "INFO: cpu_affinity auto: let go of CPU " in log.read_text()
    finally:
        assert stop(worker) == 0


def test_a_job_that_runs_long_lets_the_threads_go_before_it_ends(
    redis_db: RedisDB, workdir: Path
) -> None:
    worker = start_worker(workdir, env_for(redis_db))
    try:
        (pid,) = wait_registered(redis_db)
        pushed = short_jobs_until(
            redis_db, lambda: on_one_cpu(pid) is not None, "threads on one CPU"
        )
        push(redis_db, "proc_jobs.slow", [[20]])
        wait_for(lambda: redis_db.client.llen("test:started") == 1, what="the slow job's start")
        wait_for(lambda: set(thread_cpus(pid)) == {ALLOWED}, what="threads on every CPU")
        assert redis_db.client.llen("test:started") == 1  # still running: it sleeps 20 s
        assert redis_db.client.llen("test:done") == pushed
    finally:
        assert stop(worker, signal.SIGKILL) == -signal.SIGKILL


def test_a_cpu_list_pins_exactly_there(redis_db: RedisDB, workdir: Path) -> None:
    cpu = max(ALLOWED)
    worker = start_worker(workdir, env_for(redis_db), "--cpu-affinity", str(cpu))
    try:
        (pid,) = wait_registered(redis_db)
        wait_for(lambda: on_one_cpu(pid) == cpu, what=f"threads on CPU {cpu}")
    finally:
        assert stop(worker) == 0


def test_supervised_children_start_on_different_cpus(redis_db: RedisDB, workdir: Path) -> None:
    with open(workdir / "supervisor.log", "ab") as out:
        supervisor = subprocess.Popen(
            [henchman_bin(), "run", "-r", "proc_jobs", "-P", "2", "--cpu-affinity", "auto"],
            cwd=workdir,
            env=env_for(redis_db),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        pids = wait_registered(redis_db, count=2)
        short_jobs_until(
            redis_db, lambda: all(on_one_cpu(p) is not None for p in pids), "children pinned"
        )
        assert len({on_one_cpu(p) for p in pids}) == 2
        assert set(thread_cpus(supervisor.pid)) == {ALLOWED}  # the supervisor runs no jobs
    finally:
        assert stop(supervisor) == 0


def test_two_independent_workers_pin_to_different_cpus(redis_db: RedisDB, workdir: Path) -> None:
    # Not children of one supervisor (no slots): each pins where the fewest others are pinned.
    first = start_worker(workdir, env_for(redis_db), log=workdir / "first.log")
    second = start_worker(workdir, env_for(redis_db), log=workdir / "second.log")
    try:
        pids = wait_registered(redis_db, count=2)
        short_jobs_until(
            redis_db,
            lambda: len({on_one_cpu(p) for p in pids} - {None}) == 2,
            "the two workers pinned to two CPUs",
        )
    finally:
        assert stop(first) == 0
        assert stop(second) == 0
    # Each went to its CPU when it pinned, not later by moving away from the other.
    pins = [first_pin(workdir / name) for name in ("first.log", "second.log")]
    assert None not in pins
    assert len(set(pins)) == 2


def first_pin(log: Path) -> str | None:
    """The CPU of the first "pinned to CPU n" line in a worker's log."""
    for line in log.read_text().splitlines():
        if "cpu_affinity auto: pinned to CPU " in line:
            return line.split("pinned to CPU ")[1].split(":")[0]
    return None


def refused(redis_db: RedisDB, workdir: Path, value: str) -> list[str]:
    """Run ``henchman run --cpu-affinity VALUE``; assert exit code 2; return the stderr lines."""
    result = subprocess.run(
        [henchman_bin(), "run", "-r", "proc_jobs", "--cpu-affinity", value],
        cwd=workdir,
        env=env_for(redis_db),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    return result.stderr.strip().splitlines()


def test_a_bad_value_exits_with_one_line_naming_the_setting(
    redis_db: RedisDB, workdir: Path
) -> None:
    assert refused(redis_db, workdir, "fastest") == [
        "error: setting 'cpu_affinity' in --cpu-affinity must be auto, off or a CPU list "
        "like 0,2-3 ('fastest' is not a CPU number or range), got 'fastest'"
    ]


def test_a_cpu_the_process_may_not_use_is_a_one_line_error(
    redis_db: RedisDB, workdir: Path
) -> None:
    missing = max(ALLOWED) + 1
    allowed = ",".join(str(c) for c in sorted(ALLOWED))
    assert refused(redis_db, workdir, f"0,{missing}") == [
        f"error: cpu_affinity 0,{missing}: CPU {missing} not available to this process "
        f"(allowed: {allowed})"
    ]


SHELL_SCRIPT = """
import json, os, threading, time
from henchman.server import placement as pl

allowed = sorted(os.sched_getaffinity(0))
first, other = allowed[0], allowed[1]

def cpus(busy_ticks, total):
    return {c: (busy_ticks.get(c, 0), total) for c in allowed}

# Cumulative samples: (time, own cpu s, per-CPU busy ticks out of `total` ticks).
samples = iter([
    pl.Sample(0.0, 0.0, cpus({}, 0)),                                # begin()
    pl.Sample(1.0, 0.1, cpus({}, 100)),                              # start(): all idle
    pl.Sample(3.0, 0.9, cpus({first: 190, other: 20}, 300)),         # others: 55 % of first
    pl.Sample(5.0, 1.7, cpus({first: 380, other: 40}, 500)),         # ... and again: move
    pl.Sample(20.0, 16.25, cpus({first: 455, other: 1510}, 2000)),   # 0.97 cores: probe
    pl.Sample(22.0, 19.75, cpus({first: 635, other: 1690}, 2200)),   # 1.75 cores: free
])
now = iter([1.0, 1.5, 1.5, 3.0, 5.0, 20.0, 22.0])

class Coin:
    def random(self):
        return 0.1

p = pl.Placement("auto", interval=1.0, slot=0, clock=lambda: next(now), rng=Coin(),
                 sample=lambda clock: next(samples))
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # a worker-like thread, pinned too

def state():
    sets = {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir("/proc/self/task")}
    return [sorted(s) for s in sets]

p.begin()
seen = []
p.start(); seen.append(state())
for _ in range(pl.PIN_AFTER):
    p.job_done(0.0002, 0.0001)  # short jobs: pinned to the slot's CPU
seen.append(state())
for _ in range(4):
    p.tick(); seen.append(state())
print(json.dumps({"first": first, "other": other, "allowed": allowed, "seen": seen,
                  "mode": p.state.mode.value}))
"""


def test_the_shell_moves_probes_and_frees_the_real_threads() -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SHELL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = json.loads(result.stdout)
    first, other, allowed = out["first"], out["other"], out["allowed"]
    assert out["seen"] == [
        [allowed],  # start: unpinned until jobs show themselves short
        [[first]],  # short jobs: slot 0 -> the first allowed CPU
        [[first]],  # others use 55 % of it, the other CPU is idle: one strike
        [[other]],  # the same again: moved (coin 0.1 < 0.5)
        [allowed],  # saturated after the first-probe delay: unpinned to look
        [allowed],  # used 1.75 cores while unpinned: stays free
    ]
    assert out["mode"] == "free"
