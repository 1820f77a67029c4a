"""Server middleware for limiters: reschedule a job that ``OverLimit`` escaped, and hold a
limiter around every job of chosen queues.

``OverLimit`` escaping a job is not a failure: the job could not get room in time. The
:class:`OverLimitRescheduler` (in every app's chain as ``limiter``) acknowledges the job and
schedules the same payload (same jid) to run again after a linear backoff, in one atomic step
(the processor's ``RescheduleJob`` outcome: the acknowledgement and the schedule entry are one
Lua call, so reliable fetch is intact: a crash before it leaves the job in its working list). The
payload's ``overrated`` field counts these reschedules, as in Sidekiq Enterprise. Once a job has
been rescheduled ``max_overrated`` times (20), the next ``OverLimit`` goes through the ordinary
retry logic like any other error (retries, then the dead set).
"""

from __future__ import annotations

import contextvars
import random
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from henchman.errors import OverLimit, RescheduleJob
from henchman.limits.base import Admission, Limiter
from henchman.middleware.chain import JobRun, Middleware

#: ``(overrated, exc, payload) -> seconds``: the delay before reschedule number ``overrated``.
Backoff = Callable[[int, OverLimit, dict[str, Any]], float]

#: Reschedules before an OverLimit counts as an ordinary failure.
MAX_OVERRATED = 20

_held: contextvars.ContextVar[Admission | None] = contextvars.ContextVar(
    "henchman_queue_admission", default=None
)


def queue_admission() -> Admission | None:
    """The admission :class:`LimitQueues` holds for the running job (its ``admitted_at`` is the
    server time the job got its slot), or ``None``."""
    return _held.get()


def linear_backoff(overrated: int, jitter: float) -> float:
    """Sidekiq Enterprise's default: ``300 * n + rand(300)`` seconds for reschedule ``n`` (from
    1); ``jitter`` is uniform in [0, 1)."""
    return 300.0 * overrated + jitter * 300.0


def reschedule(
    payload: dict[str, Any],
    exc: OverLimit,
    *,
    now: float,
    jitter: float,
    max_overrated: int,
    backoff: Backoff | None,
) -> RescheduleJob | None:
    """The reschedule of an over-limit job, or ``None`` once it has used up its reschedules."""
    count = payload.get("overrated")
    done = count if isinstance(count, int) and not isinstance(count, bool) else 0
    if done >= max_overrated:
        return None
    job = {**payload, "overrated": done + 1}
    delay = backoff(done + 1, exc, job) if backoff else linear_backoff(done + 1, jitter)
    return RescheduleJob(job, now + max(float(delay), 0.0))


class OverLimitRescheduler(Middleware):
    """Turns an ``OverLimit`` escaping a job into a reschedule of the same job (see module)."""

    name = "limiter"

    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        max_overrated: int = MAX_OVERRATED,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.backoff = backoff
        self.max_overrated = max_overrated
        self._clock = clock
        self._rng = rng or random.Random()

    def _handle(self, run: JobRun, exc: OverLimit) -> RescheduleJob | None:
        found = reschedule(
            run.payload, exc, now=self._clock(), jitter=self._rng.random(),
            max_overrated=self.max_overrated, backoff=self.backoff,
        )  # fmt: skip
        if found is not None:
            run.context.logger.info(
                "over limit %r: rescheduled (%d of %d) to run in %.0f s",
                exc.limiter, found.payload["overrated"], self.max_overrated,
                found.at - self._clock(),
            )  # fmt: skip
        return found

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        try:
            return call_next()
        except OverLimit as exc:
            found = self._handle(run, exc)
            if found is None:
                raise
            raise found from exc

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call_next()
        except OverLimit as exc:
            found = self._handle(run, exc)
            if found is None:
                raise
            raise found from exc


class LimitQueues(Middleware):
    """Runs every job of ``queues`` (all queues when empty) inside ``limiter.within_limit()``:
    e.g. a concurrent limiter of size 3 caps queue ``api`` at 3 running jobs across every process,
    without touching the fetcher (so reliable fetch is untouched). Add it with
    ``app.middleware.add(LimitQueues(limiter, ["api"]))``. A job that gets no room within the
    limiter's ``wait_timeout`` is rescheduled by :class:`OverLimitRescheduler`."""

    def __init__(self, limiter: Limiter, queues: Collection[str] = (), name: str = "") -> None:
        self.limiter = limiter
        self.queues = frozenset(queues)
        self.name = name or f"limit:{limiter.name}"

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        if self.queues and run.queue not in self.queues:
            return call_next()
        with self.limiter.within_limit() as admission:
            token = _held.set(admission)
            try:
                return call_next()
            finally:
                _held.reset(token)

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        if self.queues and run.queue not in self.queues:
            return await call_next()
        async with self.limiter.awithin_limit() as admission:
            token = _held.set(admission)
            try:
                return await call_next()
            finally:
                _held.reset(token)
