"""Running ``henchman run`` as a real subprocess for process-level and fault tests.

The worker imports ``proc_jobs.py`` (written into the test's temporary directory), which records
every execution in Redis so tests can count executed and lost jobs by jid.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

JOBS_MODULE = """
import os, time
import redis
import henchman

_client = None


def _redis():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"])
    return _client


def _record(kind):
    job = henchman.current_job()
    _redis().rpush("test:" + kind, job.jid)


@henchman.job
def record(n):
    _record("done")


@henchman.job
def slow(seconds):
    _record("started")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    _record("done")


@henchman.job
def nap(seconds):
    _record("done")
    time.sleep(seconds)


@henchman.job
def suicide():
    _record("started")
    os._exit(1)
"""


def write_jobs(directory: Path) -> Path:
    path = directory / "proc_jobs.py"
    path.write_text(JOBS_MODULE)
    return path


def fast_env(url: str, **extra: str) -> dict[str, str]:
    """Environment for a worker on ``url`` with fast background loops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HENCHMAN_", "REDIS_URL"))}
    env.update(
        HENCHMAN_REDIS_URL=url,
        HENCHMAN_HEARTBEAT_INTERVAL="0.5",
        HENCHMAN_POLL_INTERVAL_AVERAGE="0.3",
        HENCHMAN_ORPHAN_CHECK_INTERVAL="1",
        HENCHMAN_PROCESS_TTL="3",
        HENCHMAN_FETCH_TIMEOUT="0.5",
        # One worker process, not one per CPU: these tests signal, SIGKILL and read the log of
        # the process they started. Tests of the supervisor pass -P themselves.
        HENCHMAN_PROCESSES="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def henchman_bin() -> str:
    return str(Path(sys.executable).with_name("henchman"))


def start_worker(
    directory: Path, env: dict[str, str], *args: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``henchman run -r proc_jobs`` in ``directory``; output goes to ``log``."""
    with open(log or directory / "worker.log", "ab") as out:  # the child keeps its own fd
        return subprocess.Popen(
            [henchman_bin(), "run", "-r", "proc_jobs", *args],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``timeout`` seconds.

    The default is generous: what these tests wait for is mostly fresh interpreters booting
    (a supervisor's children boot one after the other), which on a loaded machine can take many
    seconds each. Waiting longer costs nothing when the condition comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
    """Send ``sig`` and wait for the exit code (after ``timeout``, kill it and every process it
    started: a supervisor's children left running would write into later tests' databases)."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        children = descendants(process.pid)
        process.kill()
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait()
        raise


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; none elsewhere)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(child) for child in task.read_text().split()]
        except OSError:  # the task ended meanwhile
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def fault_rng() -> random.Random:
    """A random source for fault moments (when to kill, stop, freeze), logged with its seed so a
    failure can be replayed: set ``HENCHMAN_FAULT_SEED`` to the printed seed."""
    seed = int(os.environ.get("HENCHMAN_FAULT_SEED") or random.randrange(2**32))
    print(f"fault moments drawn with HENCHMAN_FAULT_SEED={seed}", flush=True)
    return random.Random(seed)


def fault_moment(low: int, high: int) -> int:
    """One random point in ``[low, high]`` for a fault (e.g. "kill after N jobs"), logged."""
    moment = fault_rng().randint(low, high)
    print(f"fault moment: {moment}", flush=True)
    return moment
