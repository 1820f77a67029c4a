"""JobTimes: each sync job's wall time, thread CPU and sleeps, as placement reads them.

Real sleeps on the test's own thread. What is asserted is what the kernel counts, never how long
anything took: the thread's sleeps (voluntary context switches), and that the CPU time reported
is the job thread's own (within what the thread used around the call). Whether given times make
a job long is the pure ``placement.is_long``, tested with fixed values in test_placement.py.
"""

from __future__ import annotations

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


def test_each_sleep_of_the_job_s_thread_is_counted() -> None:
    def naps() -> None:
        for _ in range(20):
            time.sleep(0.002)

    _, _, waits = run(naps)
    assert waits is not None
    assert waits >= 20  # each sleep is one voluntary switch


def test_one_sleep_is_one_wait() -> None:
    _, _, waits = run(lambda: time.sleep(0.05))
    assert waits is not None
    assert 1 <= waits < 5


def test_the_cpu_reported_is_the_job_thread_s_own() -> None:
    def spin() -> None:
        total = 0
        for i in range(200_000):
            total += i

    before = time.thread_time()
    _, cpu, _ = run(spin)
    around = time.thread_time() - before
    assert cpu > 0.0
    # getrusage rounds to microseconds; thread_time is finer.
    assert cpu <= around + 1e-5
