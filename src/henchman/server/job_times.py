"""Each sync job's wall time, its thread's CPU time and sleeps, for ``cpu_affinity auto``.

CPU placement pins a worker's threads to one CPU only while its jobs are short, and lets them go
after any long one (:mod:`henchman.server.placement`). It learns job lengths here, a middleware
entry added by the launcher when placement is adaptive: a clock read and the thread's resource
usage around the job, no Redis. The thread's CPU time tells a job whose own work is long
(hashing in C code that releases the GIL still counts) from a short one that waited for the GIL
behind ten others; the wall time catches a job that waits for a child process it started, and
the count of the thread's sleeps tells one such long wait from many short ones (the GIL, round
trips). Async jobs share the event loop's thread, so their CPU cannot be told apart; they pass
through unobserved.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any, Protocol

from henchman.middleware.chain import JobRun, Middleware


class Observer(Protocol):
    def job_done(self, wall: float, cpu: float, waits: int | None = None) -> None: ...


class JobTimes(Middleware):
    """Tells ``observer`` how long each sync job ran (wall seconds, thread CPU seconds) and how
    many times its thread slept (voluntary context switches)."""

    name = "JobTimes"

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        # One getrusage of the thread gives both its CPU time and its sleeps (as cheap as one
        # thread_time call, 0.3-0.4 us).
        wall, start = time.monotonic(), resource.getrusage(resource.RUSAGE_THREAD)
        try:
            return call_next()
        finally:
            end = resource.getrusage(resource.RUSAGE_THREAD)
            cpu = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
            self.observer.job_done(time.monotonic() - wall, cpu, end.ru_nvcsw - start.ru_nvcsw)
