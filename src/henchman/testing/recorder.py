"""Recording mode: pushes are captured instead of written, and run on demand.

::

    with henchman.testing.recording(app) as rec:
        signup(user)                                   # code under test pushes jobs
        assert rec.jobs_for(send_welcome)[0]["args"] == [user.id]
        assert rec.drain() == 2                        # runs them, and what they enqueue

Pushes are planned exactly as in production (``TypeError`` for arguments that are not JSON, client
middleware applied, a jid returned) but never reach Redis: recording does not connect at all.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from henchman import payload as wire
from henchman.client.plan import PushPlan
from henchman.job import Job, JobDefinition, Pushable
from henchman.testing._seam import clients_replaced, run_plan

if TYPE_CHECKING:
    from henchman.app import Henchman

#: What names a job for :meth:`Recorder.jobs_for` / :meth:`Recorder.drain`: a decorated function,
#: a ``Job`` subclass, a setter, a definition, or the wire name itself.
JobRef = str | Pushable | type[Job] | JobDefinition


class Recorder:
    """The pushes captured by :func:`recording`, queued in push order until drained or cleared.

    Thread-safe: jobs pushed from other threads (or from jobs running during :meth:`drain`) are
    captured too.
    """

    def __init__(self, app: Henchman) -> None:
        self.app = app
        self._plans: list[PushPlan] = []
        self._lock = threading.Lock()
        #: True inside the ``recording`` block: only then do jobs run by ``drain`` push into it.
        self.active = False

    def capture(self, plans: Sequence[PushPlan]) -> None:
        """Queue planned pushes (called by the recording clients)."""
        with self._lock:
            self._plans.extend(plans)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The queued payloads in push order, as fresh dicts decoded from the JSON that would have
        been written. A scheduled job also carries ``"at"`` (epoch seconds), as in Sidekiq's
        testing mode."""
        with self._lock:
            plans = list(self._plans)
        return [_job_dict(plan) for plan in plans]

    def jobs_for(self, job: JobRef) -> list[dict[str, Any]]:
        """The queued payloads of one job (see :data:`JobRef`), in push order."""
        name = job_name(job)
        return [payload for payload in self.jobs if payload["class"] == name]

    def clear(self) -> None:
        """Forget every queued push without running it."""
        with self._lock:
            self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)

    def drain(self, job: JobRef | None = None) -> int:
        """Run queued jobs (all, or only ``job``'s) in push order until none is left; return how
        many ran.

        Scheduled jobs run too, whatever their time. Jobs enqueued while draining are queued
        behind the rest and run in the same call. Each job runs in this thread via
        ``app.run_payload``: a JSON round trip, then the server middleware. A job is taken off the
        queue before it runs, so when one raises, the exception propagates out of ``drain`` and
        the jobs after it stay queued (call ``drain`` again to continue). A name the app has no
        job for raises :class:`~henchman.errors.UnknownJob`. A job that always re-enqueues itself
        makes ``drain`` loop forever, as it would make a worker.

        Only inside the ``recording`` block: after it, jobs pushed by drained jobs would go to the
        real Redis, so ``drain`` raises ``RuntimeError`` instead.
        """
        if not self.active:
            raise RuntimeError(
                "Recorder.drain() runs jobs only inside its recording() block: outside it, jobs "
                "they push would be written to Redis"
            )
        name = None if job is None else job_name(job)
        ran = 0
        while (plan := self._take(name)) is not None:
            run_plan(self.app, plan)
            ran += 1
        return ran

    def drain_all(self) -> int:
        """Same as :meth:`drain` with no argument."""
        return self.drain()

    def _take(self, name: str | None) -> PushPlan | None:
        with self._lock:
            for index, plan in enumerate(self._plans):
                if name is None or _class_of(plan) == name:
                    return self._plans.pop(index)
        return None


@contextlib.contextmanager
def recording(app: Henchman | None = None) -> Iterator[Recorder]:
    """Capture every push made through ``app`` (default: the default app) inside the block.

    Covers the sync and asyncio clients and every push method. On exit the app's previous
    clients are back; the recorder's ``jobs`` stay readable, but it can no longer ``drain``.
    """
    if app is None:
        from henchman.app import default_app

        app = default_app()
    recorder = Recorder(app)
    with clients_replaced(app, recorder.capture):
        recorder.active = True
        try:
            yield recorder
        finally:
            recorder.active = False


def job_name(job: JobRef) -> str:
    """The wire name (``class``) of ``job``."""
    if isinstance(job, str):
        return job
    if isinstance(job, JobDefinition):
        return job.name
    if isinstance(job, Pushable):
        return job._definition().name
    if isinstance(job, type) and issubclass(job, Job):
        definition = job.__dict__.get("__henchman__")
        if isinstance(definition, JobDefinition):
            return definition.name
        raise TypeError(f"{job.__qualname__} is an abstract Job class: it defines no perform()")
    raise TypeError(f"{job!r} is not a job, a Job class or a job name")


def _class_of(plan: PushPlan) -> str:
    return str(wire.decode(plan.raw)["class"])


def _job_dict(plan: PushPlan) -> dict[str, Any]:
    payload = wire.decode(plan.raw)
    if plan.at is not None:
        payload["at"] = plan.at
    return payload
