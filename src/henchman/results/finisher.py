"""Writes a job's outcome into its result record in the same round trip as its
acknowledgement (see :class:`henchman.server.processor.Finisher`).

The record write goes in the same pipeline, just before the write that ends the job (the
acknowledgement, or the retry or dead record), so a reader never sees a job acknowledged whose
result is missing. A crash between the two leaves the job in its working list: it runs again
and writes its record again. A job with a result therefore does not share the next fetch's
round trip for its acknowledgement: one round trip more per such job.

Outcomes: ``success`` records the value (``succeeded``); ``retry`` records the error
(``retrying``); ``dead`` and ``discard`` record the error as final (``failed``); ``requeue``
(an interrupted iterable job) records nothing more: the record says ``running`` until the job
runs again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from henchman.context import JobContext
from henchman.redis.scripts import ScriptCall
from henchman.results import record
from henchman.results.middleware import NOTE
from henchman.results.store import ResultStore

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.server.processor import Write

__all__ = ["ResultFinisher"]


class ResultFinisher:
    """Adds the result record's outcome to the final write of every job that keeps one."""

    name = "results"

    def __init__(self, app: Henchman, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.clock = clock

    def finish(self, context: JobContext, outcome: str, write: Write) -> Write:
        ttl = record.ttl_of(context.payload, self.app.settings.result_ttl)
        if ttl is None or outcome == "requeue":
            return write
        now = self.clock()
        noted = context.notes.get(NOTE)
        keys, args = ResultStore.write_call(context.jid, {}, ttl)
        if outcome == "success":
            value = noted[1] if noted and noted[0] == "value" else b"null"
            fields = record.success_fields(value, now)
            call = ScriptCall("result_write", keys, [*args, *_flat(fields)])
        else:
            error = noted[1] if noted and noted[0] == "error" else None
            entry = record.error_entry(error, now) if isinstance(error, BaseException) else {
                "class": "henchman.Unknown", "message": str(context.payload.get("error_message")),
                "traceback": "", "at": now,
            }  # fmt: skip
            fields = record.failure_fields(final=outcome != "retry", now=now)
            call = ScriptCall("result_fail", keys, [
                args[0], orjson.dumps(entry).decode(), record.MAX_ERRORS, *_flat(fields),
            ])  # fmt: skip
        return replace(write, before=(*write.before, call), ack_only=False, deferrable=False)


def _flat(fields: dict[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]
