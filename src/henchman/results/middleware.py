"""The results middleware: for jobs that keep a result, record each run's start and check the
return value; the outcome itself is written with the acknowledgement
(:mod:`henchman.results.finisher`).

A job keeps a result when its ``result_ttl`` option (or ``Settings.result_ttl``) is a positive
number of seconds. Any other job costs one dictionary lookup here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from henchman.middleware.chain import JobRun, Middleware
from henchman.results import record
from henchman.results.store import ResultStore

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["NOTE", "Results"]

#: ``JobContext.notes`` key: ``("value", json bytes)`` or ``("error", exception)``.
NOTE = "result"


class Results(Middleware):
    """Writes ``running`` at the start of a run and keeps the JSON return value for the finish."""

    name = "results"

    def __init__(self, app: Henchman, clock: Callable[[], float] = time.time) -> None:
        self._app = app
        self._clock = clock
        self._store: ResultStore | None = None

    def _ttl(self, run: JobRun) -> float | None:
        return record.ttl_of(run.payload, self._app.settings.result_ttl)

    def store(self, queue: str = "default") -> ResultStore:
        """The sync store on the server of ``queue`` (the app's client, made on first use;
        with ``shards``, the queue's shard, where the job's final write records its outcome)."""
        if self._app.settings.shards:
            return ResultStore(self._app.queue_client(queue).redis)
        if self._store is None:
            self._store = ResultStore(self._app.client.redis)
        return self._store

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        ttl = self._ttl(run)
        if ttl is None:
            return call_next()
        ctx = run.context
        fields = record.start_fields(run.payload, run.queue, self._clock())
        self.store(run.queue).start(ctx.jid, fields, ttl)
        return self._keep(run, call_next)

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        ttl = self._ttl(run)
        if ttl is None:
            return await call_next()
        ctx = run.context
        fields = record.start_fields(run.payload, run.queue, self._clock())
        # Off the event loop on the app's sync pool: a worker's loop has no client of the app's.
        await asyncio.to_thread(self.store(run.queue).start, ctx.jid, fields, ttl)
        try:
            value = await call_next()
        except BaseException as exc:
            ctx.notes[NOTE] = ("error", exc)
            raise
        return _kept(run, value)

    @staticmethod
    def _keep(run: JobRun, call_next: Callable[[], Any]) -> Any:
        try:
            value = call_next()
        except BaseException as exc:
            run.context.notes[NOTE] = ("error", exc)
            raise
        return _kept(run, value)


def _kept(run: JobRun, value: Any) -> Any:
    """Note the JSON of ``value``; a value that is not JSON fails the job here, with a message
    naming the bad part (and that error is what the result records)."""
    try:
        run.context.notes[NOTE] = ("value", record.check_value(value))
    except TypeError as exc:
        run.context.notes[NOTE] = ("error", exc)
        raise
    return value
