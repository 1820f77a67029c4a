"""CPU placement of real worker processes (``cpu_affinity``, henchman.server.placement).

Affinities are read from the kernel (``sched_getaffinity`` of every thread), never from henchman.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

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


def pin_with_short_jobs(
    redis_db: RedisDB, pids: list[int], *, apart: bool = False, timeout: float = 75.0
) -> int:
    """Keep short jobs coming until every process of ``pids`` has all its threads on one CPU
    (each on its own if ``apart``) and every job pushed has run; return how many were pushed.

    A fixed number of jobs is not enough: on a loaded machine a short job now and then waits
    20 ms for a CPU, which counts as long, restarts the count of short jobs in a row and lets a
    pinned process go. So the test feeds jobs as a busy queue would, and polls for the pin."""
    pushed = 0
    done_before = redis_db.client.llen("test:done")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpus = [on_one_cpu(pid) for pid in pids]
        pinned = None not in cpus and (not apart or len(set(cpus)) == len(pids))
        if pinned and redis_db.client.llen("test:done") - done_before == pushed:
            return pushed
        if redis_db.client.llen(keys.queue("default")) == 0:
            short_jobs(redis_db, placement.PIN_AFTER)
            pushed += placement.PIN_AFTER
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {pids} to pin")


@pytest.mark.timeout(240)  # up to three pins by short jobs on a loaded machine (see the loop)
def test_auto_pins_all_threads_to_one_cpu_after_short_jobs_and_frees_processes_jobs_start(
    redis_db: RedisDB, workdir: Path
) -> None:
    worker = start_worker(workdir, env_for(redis_db), "--cpu-affinity", "auto")
    log = workdir / "worker.log"
    children: list[int] = []
    try:
        (pid,) = wait_registered(redis_db)
        assert set(thread_cpus(pid)) == {ALLOWED}  # unpinned until jobs show themselves short
        for _attempt in range(3):
            pin_with_short_jobs(redis_db, [pid])
            assert len(thread_cpus(pid)) >= 11  # main, 10 worker threads, housekeeping: pinned
            released = log.read_text().count("cpu_affinity auto: let go of CPU ")
            redis_db.client.delete("test:child")
            push(redis_db, "proc_jobs.spawn", [[]])
            wait_for(lambda: redis_db.client.get("test:child") is not None, what="the job's child")
            children.append(int(redis_db.client.get("test:child") or 0))
            # Inherited the pin at fork; the next placement tick gives it every allowed CPU back.
            wait_for(
                lambda: frozenset(os.sched_getaffinity(children[-1])) == ALLOWED,
                timeout=10,
                what="the job's child process on all CPUs",
            )
            if log.read_text().count("cpu_affinity auto: let go of CPU ") == released:
                break
            # On a loaded machine forking can take 20 ms: the spawning job itself was long and
            # the worker let go (which frees the child too). Pin again and spawn again.
        assert on_one_cpu(pid) is not None  # the child got every CPU; the worker kept its pin
    finally:
        assert stop(worker) == 0
        for child in children:
            with contextlib.suppress(ProcessLookupError):
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
        pin_with_short_jobs(redis_db, [pid])
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
        pin_with_short_jobs(redis_db, [pid])
        released = log.read_text().count("INFO: cpu_affinity auto: let go of CPU ")
        push(redis_db, job, [args])  # long by its wall time (a nap) or by its CPU (hashing)
        wait_for(lambda: set(thread_cpus(pid)) == {ALLOWED}, what="threads on every CPU")
        assert log.read_text().count("INFO: cpu_affinity auto: let go of CPU ") == released + 1
    finally:
        assert stop(worker) == 0


def test_a_job_that_runs_long_lets_the_threads_go_before_it_ends(
    redis_db: RedisDB, workdir: Path
) -> None:
    worker = start_worker(workdir, env_for(redis_db))
    try:
        (pid,) = wait_registered(redis_db)
        pushed = pin_with_short_jobs(redis_db, [pid])
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
            # Two threads a process (-c 2): fewer jobs in flight when a loaded machine stalls the
            # process, so fewer of them count as long and the run of short jobs pins sooner.
            [henchman_bin(), "run", "-r", "proc_jobs", "-P", "2", "-c", "2", "--cpu-affinity=auto"],
            cwd=workdir,
            env=env_for(redis_db),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        pids = wait_registered(redis_db, count=2)
        pin_with_short_jobs(redis_db, pids)
        assert len({on_one_cpu(p) for p in pids}) == 2
        assert set(thread_cpus(supervisor.pid)) == {ALLOWED}  # the supervisor runs no jobs
    finally:
        assert stop(supervisor) == 0


def test_two_independent_workers_pin_to_different_cpus(redis_db: RedisDB, workdir: Path) -> None:
    # Not children of one supervisor (no slots): each pins where the fewest others are pinned.
    # Two threads each (-c 2), as in test_supervised_children_start_on_different_cpus.
    first = start_worker(workdir, env_for(redis_db), "-c", "2", log=workdir / "first.log")
    second = start_worker(workdir, env_for(redis_db), "-c", "2", log=workdir / "second.log")
    try:
        pids = wait_registered(redis_db, count=2)
        pin_with_short_jobs(redis_db, pids, apart=True)
    finally:
        assert stop(first) == 0
        assert stop(second) == 0
    # Each went to its CPU when it pinned, not later by moving away from the other: no pin (the
    # first, or one after a long job let go on a loaded machine) chose the CPU the other held,
    # unless it saw the other there and every other CPU as crowded (by processes of other tests
    # running at the same time: the rule counts every pinned process on the host).
    first, second = pin_timeline(workdir / "first.log"), pin_timeline(workdir / "second.log")
    assert any(event[1] == "pin" for event in first)
    assert any(event[1] == "pin" for event in second)
    assert pins_on_a_held_cpu(first, second) == []
    assert pins_on_a_held_cpu(second, first) == []


#: (timestamp, kind, CPU, other processes pinned per CPU as the pin's log line says)
Event = tuple[str, str, "int | None", "dict[int, int]"]
#: How the log says the threads went back to every CPU: a long job, a probe, for good.
OFF_NOTES = ("let go of CPU ", "unpinned for one interval", "keeping this process on all its CPUs")


def pin_timeline(log: Path) -> list[Event]:
    """Every placement change in a worker's log, in order: (timestamp, kind, CPU), kind "pin" (a
    pin it chose), "on" (moved to, or back on, a CPU) or "off" (threads on every CPU)."""
    events: list[Event] = []
    for line in log.read_text().splitlines():
        stamp, _, rest = line.partition(" ")
        note = rest.partition("cpu_affinity auto: ")[2]
        if note.startswith("pinned to CPU "):
            cpu = int(note.split("pinned to CPU ")[1].split(":")[0])
            seen = note.partition("; other processes pinned: ")[2]
            others = {
                int(c.split(":")[0].removeprefix("CPU ")): int(c.split(":")[1])
                for c in seen.split(", ")
                if c.startswith("CPU ")
            }
            events.append((stamp, "pin", cpu, others))
        elif "moving to CPU " in note:
            events.append((stamp, "on", int(note.split("moving to CPU ")[1].split()[0]), {}))
        elif "back on CPU " in note:
            events.append((stamp, "on", int(note.split("back on CPU ")[1].split()[0]), {}))
        elif any(off in note for off in OFF_NOTES):
            events.append((stamp, "off", None, {}))
    return events


def pins_on_a_held_cpu(mine: list[Event], theirs: list[Event]) -> list[str]:
    """The pins in ``mine`` onto the CPU that ``theirs`` held (by its log) when the pin was made.
    An event of theirs in the same millisecond is not counted as before."""
    bad = []
    for stamp, kind, cpu, others in mine:
        if kind != "pin" or cpu is None:
            continue
        held = None
        for their_stamp, their_kind, their_cpu, _ in theirs:
            if their_stamp >= stamp:
                break
            held = their_cpu if their_kind in ("pin", "on") else None
        crowded = others.get(cpu, 0) >= 1 and all(
            others.get(c, 0) >= others[cpu] for c in ALLOWED if c != cpu
        )
        if held == cpu and not crowded:
            bad.append(f"{stamp}: pinned to CPU {cpu}, which the other worker held ({others})")
    return bad


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


def run_script(source: str) -> dict[str, Any]:
    """Run ``source`` in a fresh interpreter (its own threads and CPUs); its JSON output."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_the_shell_moves_probes_and_frees_the_real_threads() -> None:
    out = run_script(SHELL_SCRIPT)
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


RELEASE_SCRIPT = """
import json, os, subprocess
from henchman.server import placement as pl

p = pl.Placement("auto", interval=3600.0, slot=0)  # no tick comes: only the release may free
p.begin()
p.start()
for _ in range(pl.PIN_AFTER):
    p.job_done(0.0002, 0.0001)  # short jobs: pinned
child = subprocess.Popen(["sleep", "60"])  # started by a job: inherits the pin
born = sorted(os.sched_getaffinity(child.pid))
p.job_done(1.0, 0.0)  # a long job: let go
after = sorted(os.sched_getaffinity(child.pid))
child.kill()
child.wait()
print(json.dumps({"pinned": p.allowed[0], "allowed": list(p.allowed), "born": born,
                  "after": after, "mode": p.state.mode.value}))
"""


def test_letting_go_also_frees_a_process_a_job_started_while_pinned() -> None:
    # Ticks free a job's child processes only while pinned; one started just before a release
    # (under load, a job that forks can itself be the long one) must not keep one CPU for life.
    out = run_script(RELEASE_SCRIPT)
    assert out["born"] == [out["pinned"]]
    assert out["after"] == out["allowed"]
    assert out["mode"] == "waiting"
