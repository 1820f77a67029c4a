"""Per-job timeouts: ``timeout=SECONDS`` (or a ``timedelta``) on a job or a push.

* An ``async def`` job is cancelled at the deadline (``asyncio.timeout``) and fails with
  :class:`~henchman.errors.JobTimeout`; the retry rules apply as for any failure.
* A sync job cannot be stopped from outside: Python has no way to kill a thread, and raising
  into one asynchronously would break arbitrary code in the middle of a C call or a ``finally``.
  So the deadline is cooperative: from the deadline on, the job's ``interrupted()`` check (and
  the checkpoint of an iterable job, which calls it between items) raises ``JobTimeout``. A job
  that never checks runs to its end; a :class:`Watchdog` logs it by jid when its deadline
  passes, so a stuck job is named in the log rather than silently holding a thread.

The :class:`JobTimeouts` middleware is the innermost built-in entry of the chain, so logging
and metrics see the timeout as the failure it is.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from henchman.errors import JobTimeout
from henchman.middleware.chain import JobRun, Middleware

log = logging.getLogger("henchman")


def job_timeout(payload: dict[str, Any]) -> float | None:
    """The job's timeout in seconds, or ``None`` (absent or unusable, e.g. pushed by hand)."""
    value = payload.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


class Watchdog:
    """Logs sync jobs still running past their deadline: one daemon thread for the process,
    started on first use, sleeping until the earliest deadline."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, threading.Event, str]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, message: str) -> threading.Event:
        """Log ``message`` at ``deadline`` unless the returned event is set first."""
        done = threading.Event()
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._order), done, message))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="henchman-timeouts", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, done, message = self._heap[0]
                wait = deadline - self._clock()
                if wait > 0 and not done.is_set():
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if not done.is_set():
                log.warning(message)


class JobTimeouts(Middleware):
    """Enforces each job's ``timeout``: cancels async jobs, interrupts sync jobs cooperatively."""

    name = "timeout"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._watchdog = Watchdog(clock)

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        seconds = job_timeout(run.payload) if "timeout" in run.payload else None
        if seconds is None:
            return call_next()
        ctx = run.context
        deadline = self._clock() + seconds
        before = ctx.interrupted
        clock = self._clock

        def interrupted() -> bool:
            if clock() >= deadline:
                raise JobTimeout(f"job ran past its timeout of {seconds:g} s")
            return before()

        ctx.interrupted = interrupted
        done = self._watchdog.watch(
            deadline,
            f"job {ctx.jid} ({run.payload.get('class')}) is still running past its timeout of "
            f"{seconds:g} s: a thread cannot be killed, it gets JobTimeout at its next "
            "interrupted() check",
        )
        try:
            return call_next()
        finally:
            done.set()
            ctx.interrupted = before

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        seconds = job_timeout(run.payload) if "timeout" in run.payload else None
        if seconds is None:
            return await call_next()
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await call_next()
        except TimeoutError:
            if scope.expired():
                raise JobTimeout(f"job cancelled at its timeout of {seconds:g} s") from None
            raise
