"""Running one fetched job: decode, look up, middleware, perform, then acknowledge or record the
failure. The decisions are shared; :meth:`Processor.run` and
:meth:`Processor.arun` are thin sync and asyncio shells around them.

Guarantees:

* The processor never raises: every outcome ends as one ``ack.lua`` call, which removes the job
  from its working list and, for a failure, writes the retry or dead record in the same step.
* Bad input never stops a worker: a payload that is not JSON, is not an object, has no ``class``
  or ``args`` that are not a list goes to the dead set with the reason and the raw bytes
  (``raw_payload``); an unregistered job name is an ordinary failure (a later deploy may add it).
* If Redis is down when a job finishes, the write is retried with backoff until it succeeds; if
  the process must stop first, the job stays in its working list and is requeued or recovered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from henchman import keys, payload as wire, retry
from henchman.context import JobContext
from henchman.errors import PayloadError, RequeueJob, RescheduleJob
from henchman.job import JobDefinition
from henchman.middleware.chain import JobRun
from henchman.redis.scripts import ScriptCall
from henchman.server.fetch import UnitOfWork
from henchman.server.invalid import invalid_record
from henchman.server.stats import Counters

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings

log = logging.getLogger("henchman")

#: Name written as ``class`` in the dead record of a payload that could not be read at all.


@dataclass(frozen=True, slots=True)
class Write:
    """The one script call that ends a job: ``ack.lua`` (or ``requeue_one.lua``), keys, args."""

    keys: list[str]
    args: list[Any]
    #: Only the acknowledgement (success or discard): it may be batched with the next fetch.
    ack_only: bool = False
    script: str = "ack"
    #: The script may ride, pipelined, with the next fetch round trip (like ``ack_only``).
    deferrable: bool = False
    #: Script calls sent in the same pipeline just before this one (one round trip): records
    #: that go with the job's end but need no part in its atomic step (a result record).
    before: tuple[ScriptCall, ...] = ()
    #: Steps of another slot around this write (cluster layout: a batch job's accounting before
    #: its acknowledgement, the delivery of callbacks after it): an object with
    #: ``send(client, send_write)`` and ``asend(client, asend_write)`` that calls the given
    #: function to send the write itself and returns its reply.
    wrap: Any = None


class Finisher(Protocol):
    """Sees every job's outcome before its final write is sent, and may replace that write (a
    script that acknowledges the job and records more in the same atomic step). Registered in
    ``app.finishers``; the batch accounting is one (:mod:`henchman.batches.finisher`).

    ``outcome`` is ``"success"``, ``"retry"`` (retry record written), ``"dead"``, ``"discard"``
    (a failure that is neither retried nor kept) or ``"requeue"`` (put back without finishing,
    e.g. an interrupted iterable job). A finisher must return ``write`` unchanged for jobs it
    does not own, must keep the write's guarantees (the job leaves its working list only with
    its record) and must not raise.
    """

    def finish(self, context: JobContext, outcome: str, write: Write) -> Write:
        """The write that ends this job: ``write`` itself or one that does more."""


def deferred(unit: UnitOfWork, write: Write) -> UnitOfWork:
    """``unit`` carrying ``write`` as the script that acknowledges it (a deferrable write)."""
    return replace(unit, finish=ScriptCall(write.script, write.keys, write.args))


@dataclass(slots=True)
class Begun:
    """A decoded job ready to run."""

    context: JobContext
    definition: JobDefinition | None
    error: BaseException | None = None


def _acknowledge(unit: UnitOfWork, per_queue: keys.KeyLayout | None = None) -> Write:
    """The write that only acknowledges (success, or a discarded failure); batchable.
    ``per_queue``: the cluster layout, whose retry set of the job's queue is in its slot (a
    finisher may turn the acknowledgement into a script call with these keys)."""
    if per_queue is not None:
        return Write(
            [unit.working_key, per_queue.retry(unit.queue)], [unit.raw, "", ""], ack_only=True
        )
    return Write([unit.working_key, keys.RETRY], [unit.raw, "", ""], ack_only=True)


def requeue_keys(layout: keys.KeyLayout, unit: UnitOfWork, queue: str) -> list[str]:
    """KEYS of ``requeue_one.lua``. The cluster layout keeps every key in the slot of the queue
    the job was fetched from (it goes back there: a move to another queue would cross slots),
    and names that queue's list again instead of the queues set (registered already: the job
    was fetched from it), which tells the script to skip its ``SADD``."""
    if layout.cluster:
        own = layout.queue(unit.queue)
        return [unit.working_key, own, own]
    return [unit.working_key, keys.queue(queue), keys.QUEUES]


def _score(value: float) -> str:
    return repr(float(value))


class Processor:
    """Runs units of work for one capsule; shared by its threads and its async tasks."""

    def __init__(
        self,
        app: Henchman,
        settings: Settings,
        counters: Counters,
        interrupted: Callable[[], bool],
        *,
        run_coroutine: Callable[[Any], Any] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        quieting: Callable[[], bool] | None = None,
    ) -> None:
        self.app = app
        #: The key layout (Sidekiq's, or the cluster layout with per-queue sets).
        self.keys = app.keys
        self._per_queue = self.keys if self.keys.per_queue_sets else None
        self.settings = settings
        self.counters = counters
        self.interrupted = interrupted
        #: True once the capsule stops fetching (TSTP or a stop): iterable jobs checkpoint.
        self.quieting = quieting or interrupted
        self.run_coroutine = run_coroutine
        self.clock = clock
        self.rng = rng or random.Random()
        #: Running jobs for the ``<identity>:work`` hash: run key -> (queue, payload, run_at).
        self.work: dict[int, tuple[str, dict[str, Any], float]] = {}

    # --- decisions --------------------------------------------------------------------------

    def begin(self, unit: UnitOfWork) -> Begun | Write:
        """Decode and look up the job; a payload that can never run becomes its dead record."""
        try:
            payload = wire.decode(unit.raw)
        except PayloadError as exc:
            return self._invalid(unit, exc)
        context = JobContext(
            payload, unit.queue, self.interrupted, quieting=self.quieting, app=self.app
        )
        try:
            definition = self.app.registry.get(payload["class"])
        except Exception as exc:
            return Begun(context, None, exc)
        return Begun(context, definition)

    def _invalid(self, unit: UnitOfWork, exc: PayloadError) -> Write:
        now = self.clock()
        self.counters.failed_one()
        record = invalid_record(unit.raw, unit.queue, str(exc), now=now, new_jid=wire.new_jid)
        log.error("dead: unreadable job in queue %r: %s", unit.queue, record["error_message"])
        context = {"job": record, "queue": unit.queue, "raw_payload": record["raw_payload"]}
        self._report(exc, context)
        return self._dead_write(unit, record, now)

    def conclude(self, unit: UnitOfWork, begun: Begun, exc: BaseException | None) -> Write:
        """Count the run and decide its one write: acknowledge, or record retry/dead."""
        if isinstance(exc, RequeueJob):
            self.counters.processed_one()
            payload = exc.payload if exc.payload is not None else begun.context.payload
            queue = str(payload.get("queue") or unit.queue)
            write = Write(
                requeue_keys(self.keys, unit, queue),
                [unit.raw, wire.encode(payload), "head" if exc.at_head else "tail", queue],
                script="requeue_one",
            )
            return self._finished(begun, "requeue", write)
        if isinstance(exc, RescheduleJob):  # acknowledged only together with the schedule entry
            self.counters.processed_one()
            write = Write(
                [unit.working_key, self.keys.schedule(unit.queue)],
                [unit.raw, _score(exc.at), wire.encode(exc.payload), "", ""],
            )
            # Not finished: a batch keeps it pending, a result record keeps its status.
            return self._finished(begun, "requeue", write)
        if exc is None:
            self.counters.processed_one()
            return self._finished(begun, "success", _acknowledge(unit, self._per_queue))
        self.counters.failed_one()
        payload = begun.context.payload
        definition = begun.definition
        hook = definition.hook("retry_in") if definition else None
        now = self.clock()
        decision = retry.decide(
            payload,
            exc,
            now=now,
            jitter=self.rng.random(),
            default_max_retries=self.settings.max_retries,
            retry_in=hook,
            default_backtrace=self.settings.backtrace_lines,
        )
        self._report(exc, {"job": decision.payload, "queue": unit.queue})
        if decision.exhausted:
            self._exhausted(definition, decision.payload, exc)
        if decision.outcome is retry.Outcome.RETRY:
            write = Write(
                [unit.working_key, self.keys.retry(unit.queue)],
                [unit.raw, _score(decision.at), wire.encode(decision.payload), "", ""],
            )
            return self._finished(begun, "retry", write)
        if decision.outcome is retry.Outcome.DEAD:
            return self._finished(begun, "dead", self._dead_write(unit, decision.payload, now))
        return self._finished(begun, "discard", _acknowledge(unit, self._per_queue))

    def _finished(self, begun: Begun, outcome: str, write: Write) -> Write:
        """Let the app's finishers (e.g. batch accounting) see the outcome and extend the write."""
        for finisher in self.app.finishers:
            try:
                write = finisher.finish(begun.context, outcome, write)
            except Exception:  # never lose the job's own write to a broken finisher
                log.exception("finisher %r failed", finisher)
        return write

    def _dead_write(self, unit: UnitOfWork, record: dict[str, Any], now: float) -> Write:
        cutoff = now - self.settings.dead_timeout
        return Write(
            [unit.working_key, self.keys.dead(unit.queue)],
            [
                unit.raw,
                _score(now),
                wire.encode(record),
                _score(cutoff),
                self.settings.dead_max_jobs,
            ],
        )

    def _exhausted(
        self, definition: JobDefinition | None, job: dict[str, Any], exc: BaseException
    ) -> None:
        hook = definition.hook("retries_exhausted") if definition else None
        if hook is not None:
            try:
                hook(job, exc)
            except Exception:
                log.exception("retries_exhausted hook of %s failed", job.get("class"))
        if job.get("dead") is not False:
            for handler in self.app.death_handlers:
                try:
                    handler(job, exc)
                except Exception:
                    log.exception("death handler %r failed", handler)

    def _report(self, exc: BaseException, context: dict[str, Any]) -> None:
        for handler in self.app.error_handlers:
            try:
                handler(exc, context)
            except Exception:
                log.exception("error handler %r failed", handler)

    # --- sync shell -------------------------------------------------------------------------

    def run(self, unit: UnitOfWork) -> Write:
        """Run one job to its final write (sync jobs here; async jobs on the capsule's loop)."""
        begun = self.begin(unit)
        if isinstance(begun, Write):
            return begun
        if begun.error is not None:
            return self.conclude(unit, begun, begun.error)
        assert begun.definition is not None
        ctx, definition = begun.context, begun.definition
        key = threading.get_ident()
        self.work[key] = (unit.queue, ctx.payload, self.clock())
        token = ctx.activate()
        try:
            perform = definition.bind(ctx)
            run = JobRun(ctx)
            if definition.is_async:
                if self.run_coroutine is None:
                    raise RuntimeError("async job fetched by a worker with no event loop")
                self.run_coroutine(
                    self.app.middleware.ainvoke(run, lambda: perform(*run.call_args()))
                )
            else:
                self.app.middleware.invoke(run, lambda: perform(*run.call_args()))
        except (Exception, SystemExit, concurrent.futures.CancelledError) as exc:
            return self.conclude(unit, begun, exc)
        finally:
            JobContext.deactivate(token)
            self.work.pop(key, None)
        return self.conclude(unit, begun, None)

    # --- asyncio shell ----------------------------------------------------------------------

    async def arun(self, unit: UnitOfWork) -> Write | None:
        """Run one job from an async worker task. ``None`` for a sync job: the caller hands it
        to the capsule's worker threads (so ``concurrency`` bounds sync jobs however fetched)."""
        begun = self.begin(unit)
        if isinstance(begun, Write):
            return begun
        if begun.error is not None:
            return self.conclude(unit, begun, begun.error)
        assert begun.definition is not None
        if not begun.definition.is_async:
            return None
        ctx, definition = begun.context, begun.definition
        task = asyncio.current_task()
        key = id(task)
        self.work[key] = (unit.queue, ctx.payload, self.clock())
        token = ctx.activate()
        try:
            perform = definition.bind(ctx)
            run = JobRun(ctx)
            await self.app.middleware.ainvoke(run, lambda: perform(*run.call_args()))
        except (Exception, SystemExit) as exc:
            return self.conclude(unit, begun, exc)
        finally:
            JobContext.deactivate(token)
            self.work.pop(key, None)
        return self.conclude(unit, begun, None)
