"""Few hot threads for short jobs: who may take the surplus of a fetch round.

Why: a CPython process runs Python on one core at a time (the GIL), and a thread gives the GIL
away at every socket call its job makes (the job's own Redis round trip: a readiness check, a
send, a receive). When other threads wait for the GIL at that moment, one of them takes it; left
to the kernel, that thread sleeps on the other CPU, so every hand-over is a cross-CPU wake-up and
the giving thread then sleeps in turn. A fetch round takes as many jobs as there are idle
threads; if every idle thread wakes for one of them, ten threads queue for the GIL and each job
pays several such hand-overs. A no-op drain then spends most of its CPU on waking threads.

So, while jobs are short, the thread that fetched a round (its *owner*) runs the surplus itself,
one job after another, and the other idle threads keep sleeping:

* Only the owner takes jobs from the surplus. The one idle thread that holds the fetch lock waits
  (at most :data:`HOT_WAIT`) until the owner has taken the last of them, then fetches the next
  round (which it owns), so fetching overlaps the previous owner's last job.
* If the surplus is still there after :data:`HOT_WAIT` (the owner is in a long job), it is
  *shared*: every thread takes from it at once, as before. A long job never holds others back
  for more than :data:`HOT_WAIT`. A process that goes quiet (TSTP, a stop) shares at once, so
  what it fetched finishes on every thread, as before.
* Only while jobs are short: when the smoothed time a thread spends between taking a job and
  asking for the next one (the job and its acknowledgement) is :data:`HOT_JOB` or more, every
  round's surplus is shared at once, so workers of longer (I/O-bound) jobs start every fetched
  job immediately, exactly as without pacing.
* Only when the threads may run on several CPUs: kept on one CPU (``cpu_affinity``, ``taskset``,
  a one-CPU container) a hand-over is a plain context switch, and threads running side by side
  let Python run while each job waits for its round trip, so every surplus is shared.

Nothing here touches Redis: every fetched job is in its working list and the ledger as before;
pacing only decides which thread starts it, and when.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sized

#: Jobs shorter than this (smoothed, seconds) run on the thread that fetched them.
HOT_JOB = 0.001
#: The longest a fetched job waits for its owner before any thread may take it (seconds).
HOT_WAIT = 0.005
#: How often (s) a thread waiting for an owner looks whether the process went quiet.
QUIET_CHECK = 0.05
#: Weight of the newest sample in the smoothed job time.
SMOOTHING = 0.125


def smoothed(previous: float, sample: float) -> float:
    """The smoothed job time after one more sample (an exponentially weighted average)."""
    return previous + (sample - previous) * SMOOTHING


def one_cpu() -> bool:
    """Whether the calling thread may run on one CPU only (``False`` if that is unknown)."""
    try:
        return len(os.sched_getaffinity(0)) == 1
    except (AttributeError, OSError):  # not Linux
        return False


def keep_hot(job_time: float, hot_job: float = HOT_JOB) -> bool:
    """Whether a round's surplus should stay with its owner: jobs are shorter than ``hot_job``."""
    return job_time < hot_job


class Pacing:
    """The owner of the current surplus, and whether it is shared; used by one fetcher."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: float = HOT_WAIT,
        hot_job: float = HOT_JOB,
        pinned: Callable[[], bool] = one_cpu,
    ) -> None:
        self._clock = clock
        self._pinned = pinned
        self._wait = wait
        self._hot_job = hot_job
        self._local = threading.local()
        #: Smoothed seconds between a thread taking a job and asking for its next one.
        self.job_time = 0.0
        self._owner = 0
        #: True: any thread may take the surplus; False: only its owner.
        self.shared = True
        self._drained = threading.Event()

    def asking(self) -> None:
        """A thread asks for its next job: the time since it took its last one is a sample."""
        took = getattr(self._local, "took", 0.0)
        if took:
            self.job_time = smoothed(self.job_time, self._clock() - took)

    def given(self, got: bool) -> None:
        """The thread's request ended: it got a job (timed from now) or nothing."""
        self._local.took = self._clock() if got else 0.0

    def may_take(self) -> bool:
        """Whether the calling thread may take a job from the surplus."""
        return self.shared or self._owner == threading.get_ident()

    def emptied(self) -> None:
        """The surplus was taken (or dropped): a thread waiting for that goes on."""
        self._drained.set()

    def new_round(self, surplus: bool) -> None:
        """The calling thread fetched a round; ``surplus``: it holds more than one job."""
        self._owner = threading.get_ident()
        hot = surplus and keep_hot(self.job_time, self._hot_job) and not self._pinned()
        self.shared = not hot

    def wait_for_owner(self, surplus: Sized, quiet: Callable[[], bool]) -> None:
        """Called holding the fetch lock with ``surplus`` not empty: wait until the owner took
        it all, :data:`HOT_WAIT` passed or the process went ``quiet``; then share whatever is
        left (a quiet process finishes what it fetched on every thread, as before)."""
        if self.shared:
            return
        self._drained.clear()
        deadline = self._clock() + self._wait
        while len(surplus) and not self.shared and not quiet():
            left = deadline - self._clock()
            if left <= 0:
                break
            self._drained.wait(min(left, QUIET_CHECK))
        if len(surplus):
            self.shared = True
