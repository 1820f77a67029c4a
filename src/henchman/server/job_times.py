"""Each sync job's wall time and its thread's CPU time, for ``cpu_affinity auto``.

CPU placement pins a worker's threads to one CPU only while its jobs are short, and lets them go
after any long one (:mod:`henchman.server.placement`). It learns job lengths here, a middleware
entry added by the launcher when placement is adaptive: two clock reads around the job, no
Redis, no allocation. The thread's CPU time tells a job whose own work is long (hashing in C
code that releases the GIL still counts) from a short one that waited for the GIL behind ten
others; the wall time catches a job that waits for a child process it started. Async jobs share
the event loop's thread, so their CPU cannot be told apart; they pass through unobserved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from henchman.middleware.chain import JobRun, Middleware


class Observer(Protocol):
    def job_done(self, wall: float, cpu: float) -> None: ...


class JobTimes(Middleware):
    """Tells ``observer`` how long each sync job ran (wall seconds, thread CPU seconds)."""

    name = "JobTimes"

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        wall, cpu = time.monotonic(), time.thread_time()
        try:
            return call_next()
        finally:
            self.observer.job_done(time.monotonic() - wall, time.thread_time() - cpu)
