"""JobTimes: each sync job's wall time, thread CPU and sleeps, as placement reads them.

Real sleeps on the test's own thread: the counts asserted are of the thread's sleeps (voluntary
context switches, from the kernel), never of elapsed time; the wall times only feed
``placement.is_long``, whose bounds leave room for a loaded machine (20 naps of 2 ms stay "many
short waits" until they take 200 ms).
"""

from __future__ import annotations

import hashlib
import time

import pytest

from henchman.context import JobContext
from henchman.middleware.chain import JobRun
from henchman.server import placement
from henchman.server.job_times import JobTimes

pytestmark = pytest.mark.skipif(not placement.supported(), reason="cpu_affinity auto is Linux only")


class Seen:
    def __init__(self) -> None:
        self.jobs: list[tuple[float, float, int | None]] = []

    def job_done(self, wall: float, cpu: float, waits: int | None = None) -> None:
        self.jobs.append((wall, cpu, waits))


def run(job: object) -> tuple[float, float, int | None]:
    seen = Seen()
    run_ = JobRun(JobContext({"class": "x", "args": [], "jid": "j"}, "default"))
    JobTimes(seen).call(run_, job)  # type: ignore[arg-type]
    (times,) = seen.jobs
    return times


def test_many_short_sleeps_are_counted_and_are_not_a_long_job() -> None:
    def naps() -> None:
        for _ in range(20):
            time.sleep(0.002)

    wall, cpu, waits = run(naps)
    assert waits is not None
    assert waits >= 20  # each sleep is one
    assert not placement.is_long(wall, cpu, waits)


def test_one_long_sleep_is_a_long_job() -> None:
    wall, cpu, waits = run(lambda: time.sleep(0.05))
    assert waits is not None
    assert 1 <= waits < 5
    assert placement.is_long(wall, cpu, waits)


def test_the_threads_own_cpu_is_counted() -> None:
    wall, cpu, _ = run(lambda: hashlib.sha256(b"x" * 16_000_000).digest())
    assert cpu >= placement.LONG_CPU  # hashing 16 MB takes several ms of this thread's CPU
    assert placement.is_long(wall, cpu, 0)
