"""Job logging: ``start``, ``done`` with elapsed seconds, ``fail`` with elapsed.

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


def _emitter(run: JobRun) -> Callable[..., None] | None:
    """How to log this job's lines, or ``None`` when they are off.

    A per-job ``log_level`` decides on its own (it can show a job's lines while the worker logs
    at WARNING, or hide them at INFO); otherwise the ``henchman.job`` logger's level decides.
    """
    level = run.payload.get("log_level")
    if isinstance(level, str) and level.upper() in logging.getLevelNamesMapping():
        if logging.getLevelNamesMapping()[level.upper()] > logging.INFO:
            return None
        return _emit_regardless_of_logger_level
    return _emit if log.isEnabledFor(logging.INFO) else None


def _emit(message: str, *args: Any, extra: dict[str, Any]) -> None:
    log.info(message, *args, extra=extra)


def _emit_regardless_of_logger_level(message: str, *args: Any, extra: dict[str, Any]) -> None:
    # Logger.handle skips the logger-level check but keeps handler levels and filters.
    record = log.makeRecord(log.name, logging.INFO, "(job)", 0, message, args, None, extra=extra)
    log.handle(record)


class JobLogging(Middleware):
    """Logs each job's start and end."""

    name = "logging"

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        emit = _emitter(run)
        if emit is None:
            return call_next()
        extra = _extra(run)
        emit("start", extra=extra)
        started = time.perf_counter()
        try:
            result = call_next()
        except BaseException:
            _finish(emit, "fail", started, extra)
            raise
        _finish(emit, "done", started, extra)
        return result

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        emit = _emitter(run)
        if emit is None:
            return await call_next()
        extra = _extra(run)
        emit("start", extra=extra)
        started = time.perf_counter()
        try:
            result = await call_next()
        except BaseException:
            _finish(emit, "fail", started, extra)
            raise
        _finish(emit, "done", started, extra)
        return result


def _finish(emit: Callable[..., None], outcome: str, started: float, extra: dict[str, Any]) -> None:
    extra["elapsed"] = round(time.perf_counter() - started, 3)
    emit(f"{outcome}: %.3f sec", extra["elapsed"], extra=extra)
