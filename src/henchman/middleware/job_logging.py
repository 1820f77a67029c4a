"""Job logging (SPEC §4.3): ``start``, ``done`` with elapsed seconds, ``fail`` with elapsed.

Records go to the ``henchman.job`` logger with ``jid``, ``job_class``, ``queue``, ``bid`` and
``tags`` as record attributes, so the text and JSON formatters (and users' own handlers) can show
them. When INFO is disabled for that logger the middleware costs one ``isEnabledFor`` call.
A per-job ``log_level`` option raises or lowers the level for that job's own records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from henchman.middleware.chain import JobRun, Middleware

log = logging.getLogger("henchman.job")


def _extra(run: JobRun) -> dict[str, Any]:
    payload = run.payload
    extra: dict[str, Any] = {
        "jid": payload.get("jid"),
        "job_class": payload.get("class"),
        "queue": run.queue,
    }
    if "bid" in payload:
        extra["bid"] = payload["bid"]
    if "tags" in payload:
        extra["tags"] = payload["tags"]
    return extra


def _enabled(run: JobRun) -> bool:
    level = run.payload.get("log_level")
    if isinstance(level, str) and level.upper() in logging.getLevelNamesMapping():
        return logging.getLevelNamesMapping()[level.upper()] <= logging.INFO
    return log.isEnabledFor(logging.INFO)


class JobLogging(Middleware):
    """Logs each job's start and end."""

    name = "logging"

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        if not _enabled(run):
            return call_next()
        extra = _extra(run)
        log.info("start", extra=extra)
        started = time.perf_counter()
        try:
            result = call_next()
        except BaseException:
            extra["elapsed"] = round(time.perf_counter() - started, 3)
            log.info("fail: %.3f sec", extra["elapsed"], extra=extra)
            raise
        extra["elapsed"] = round(time.perf_counter() - started, 3)
        log.info("done: %.3f sec", extra["elapsed"], extra=extra)
        return result

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        if not _enabled(run):
            return await call_next()
        extra = _extra(run)
        log.info("start", extra=extra)
        started = time.perf_counter()
        try:
            result = await call_next()
        except BaseException:
            extra["elapsed"] = round(time.perf_counter() - started, 3)
            log.info("fail: %.3f sec", extra["elapsed"], extra=extra)
            raise
        extra["elapsed"] = round(time.perf_counter() - started, 3)
        log.info("done: %.3f sec", extra["elapsed"], extra=extra)
        return result
