"""Log output for the worker: Sidekiq-like text lines or one JSON object per line.

Both are ordinary ``logging`` formatters installed on the ``henchman`` logger by
:func:`configure`, so users' own handlers keep working.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

import orjson

_JOB_FIELDS = ("job_class", "jid", "queue", "bid", "tags", "elapsed")


def _timestamp(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


class TextFormatter(logging.Formatter):
    """``2026-11-23T01:02:03.456Z pid=1 tid=2c class=app.Job jid=abc INFO: done: 0.001 sec``."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record.created), f"pid={os.getpid()}", f"tid={_tid(record.thread)}"]
        for field in ("job_class", "jid", "bid"):
            value = getattr(record, field, None)
            if value:
                parts.append(f"{'class' if field == 'job_class' else field}={value}")
        tags = getattr(record, "tags", None)
        if tags:
            parts.append(f"tags={','.join(map(str, tags))}")
        line = " ".join(parts) + f" {record.levelname}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line with ``ts``, ``pid``, ``tid``, ``lvl``, ``msg`` and job fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "pid": os.getpid(),
            "tid": _tid(record.thread),
            "lvl": record.levelname,
            "msg": record.getMessage(),
            "logger": record.name,
        }
        for field in _JOB_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                data["class" if field == "job_class" else field] = value
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


def _tid(ident: int | None) -> str:
    return _base36((ident or threading.get_ident()) ^ os.getpid())


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    number = abs(number)
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out or "0"


def configure(level: str = "INFO", json: bool = False) -> None:
    """Send ``henchman`` logs to stderr at ``level`` in text or JSON form (idempotent)."""
    logger = logging.getLogger("henchman")
    for handler in list(logger.handlers):
        if getattr(handler, "_henchman", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._henchman = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
