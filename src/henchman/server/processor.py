"""Running one fetched job: decode, look up, middleware, perform, then acknowledge or record the
failure (SPEC §4.1, §5). The decisions are shared; :meth:`Processor.run` and
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
import base64
import concurrent.futures
import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from henchman import keys, payload as wire, retry
from henchman.context import JobContext
from henchman.errors import PayloadError, RequeueJob
from henchman.job import JobDefinition
from henchman.middleware.chain import JobRun
from henchman.server.fetch import UnitOfWork
from henchman.server.stats import Counters

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings

log = logging.getLogger("henchman")

#: Name written as ``class`` in the dead record of a payload that could not be read at all.
INVALID_PAYLOAD_CLASS = "henchman.InvalidPayload"


@dataclass(frozen=True, slots=True)
class Write:
    """The one script call that ends a job: ``ack.lua`` (or ``requeue_one.lua``), keys, args."""

    keys: list[str]
    args: list[Any]
    #: Only the acknowledgement (success or discard): it may be batched with the next fetch.
    ack_only: bool = False
    script: str = "ack"


@dataclass(slots=True)
class Begun:
    """A decoded job ready to run."""

    context: JobContext
    definition: JobDefinition | None
    error: BaseException | None = None


def _acknowledge(unit: UnitOfWork) -> Write:
    """The write that only acknowledges (success, or a discarded failure); batchable."""
    return Write([unit.working_key, keys.RETRY], [unit.raw, "", ""], ack_only=True)


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
        context = JobContext(payload, unit.queue, self.interrupted, quieting=self.quieting)
        try:
            definition = self.app.registry.get(payload["class"])
        except Exception as exc:
            return Begun(context, None, exc)
        return Begun(context, definition)

    def _invalid(self, unit: UnitOfWork, exc: PayloadError) -> Write:
        now = self.clock()
        self.counters.failed_one()
        try:
            found = wire.decode_loose(unit.raw)
        except PayloadError:
            found = None
        record: dict[str, Any] = dict(found) if found is not None else {}
        record.setdefault("class", INVALID_PAYLOAD_CLASS)
        if not isinstance(record.get("class"), str) or not record["class"]:
            record["class"] = INVALID_PAYLOAD_CLASS
        if type(record.get("args")) is not list:
            record["invalid_args"] = record.get("args")
            record["args"] = []
        record.setdefault("queue", unit.queue)
        record.setdefault("jid", wire.new_jid())
        record.setdefault("retry", False)
        record.update(
            error_message=str(exc)[: retry.MAX_ERROR_MESSAGE],
            error_class="henchman.PayloadError",
            failed_at=now,
            raw_payload=wire.raw_text(unit.raw),
        )
        if not wire.is_utf8(unit.raw):  # keep the exact bytes too when text cannot hold them
            record["raw_payload_base64"] = base64.b64encode(unit.raw).decode()
        log.error("dead: unreadable job in queue %r: %s", unit.queue, exc)
        self._report(exc, {"queue": unit.queue, "raw_payload": wire.raw_text(unit.raw)})
        return self._dead_write(unit, record, now)

    def conclude(self, unit: UnitOfWork, begun: Begun, exc: BaseException | None) -> Write:
        """Count the run and decide its one write: acknowledge, or record retry/dead."""
        if isinstance(exc, RequeueJob):
            self.counters.processed_one()
            payload = exc.payload if exc.payload is not None else begun.context.payload
            queue = str(payload.get("queue") or unit.queue)
            return Write(
                [unit.working_key, keys.queue(queue), keys.QUEUES],
                [unit.raw, wire.encode(payload), "head" if exc.at_head else "tail", queue],
                script="requeue_one",
            )
        if exc is None:
            self.counters.processed_one()
            return _acknowledge(unit)
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
            return Write(
                [unit.working_key, keys.RETRY],
                [unit.raw, _score(decision.at), wire.encode(decision.payload), "", ""],
            )
        if decision.outcome is retry.Outcome.DEAD:
            return self._dead_write(unit, decision.payload, now)
        return _acknowledge(unit)

    def _dead_write(self, unit: UnitOfWork, record: dict[str, Any], now: float) -> Write:
        cutoff = now - self.settings.dead_timeout
        return Write(
            [unit.working_key, keys.DEAD],
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
            args = ctx.payload["args"]
            run = JobRun(ctx)
            if definition.is_async:
                if self.run_coroutine is None:
                    raise RuntimeError("async job fetched by a worker with no event loop")
                self.run_coroutine(self.app.middleware.ainvoke(run, lambda: perform(*args)))
            else:
                self.app.middleware.invoke(run, functools.partial(perform, *args))
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
            args = ctx.payload["args"]
            await self.app.middleware.ainvoke(JobRun(ctx), lambda: perform(*args))
        except (Exception, SystemExit) as exc:
            return self.conclude(unit, begun, exc)
        finally:
            JobContext.deactivate(token)
            self.work.pop(key, None)
        return self.conclude(unit, begun, None)
