"""What happens after a job fails: pure decisions, no I/O, clock and randomness passed in.

Sidekiq's rules, kept exactly:

* ``retry=False``: no retry and no dead-set entry (the job is discarded).
* ``retry=0``: no retry; straight to the dead set.
* ``retry=True``: 25 retries (``Settings.max_retries``); ``retry=N``: N retries.
* ``retry_for=S`` time-boxes retries instead: retry while ``failed_at + S`` is in the future.
* Delay = count⁴ + 15 + jitter in [0, 10·(count+1)) seconds, count from 0; a job's
  ``retry_in(count, exc, payload)`` hook may return seconds, ``"discard"``, ``"kill"`` or ``None``.
* Exhausted (or killed): ``dead=False`` discards, otherwise the dead set (trimmed by the caller).
"""

from __future__ import annotations

import base64
import json
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

MAX_ERROR_MESSAGE = 10_000


class Outcome(Enum):
    """Where a failed job goes."""

    RETRY = "retry"
    DEAD = "dead"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, when the job runs again (retry only), and the payload to store."""

    outcome: Outcome
    payload: dict[str, Any]
    at: float = 0.0
    exhausted: bool = False


def backoff(count: int, jitter: float) -> float:
    """Sidekiq's default delay before retry ``count`` (from 0); ``jitter`` is uniform in [0, 1)."""
    return count**4 + 15 + jitter * 10 * (count + 1)


def max_attempts(retry: Any, default: int) -> int:
    """How many retries the ``retry`` option allows (``True`` means ``default``)."""
    if retry is True or retry is None:
        return default
    if isinstance(retry, int) and not isinstance(retry, bool):
        return max(retry, 0)
    return 0


def error_message(exc: BaseException) -> str:
    """``str(exc)`` truncated to 10,000 characters; never raises, even if ``__str__`` does."""
    try:
        text = str(exc)
    except Exception as inner:  # a broken __str__ must not lose the job
        text = f"<str() of {type(exc).__qualname__} failed: {type(inner).__qualname__}>"
    return text[:MAX_ERROR_MESSAGE]


def error_class(exc: BaseException) -> str:
    """The exception's class name as shown in the Web UI (module-qualified unless builtin)."""
    kind = type(exc)
    module = kind.__module__
    return (
        kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    )


def compress_backtrace(lines: list[str]) -> str:
    """Sidekiq's ``error_backtrace``: base64 of zlib-deflated JSON (8.x rejects a plain list)."""
    return base64.b64encode(zlib.compress(json.dumps(lines).encode())).decode()


def decompress_backtrace(blob: str) -> list[str]:
    """Inverse of :func:`compress_backtrace` (accepts Ruby's line-wrapped base64)."""
    data: list[str] = json.loads(zlib.decompress(base64.b64decode(blob)))
    return data


def backtrace_lines(exc: BaseException, option: Any) -> list[str] | None:
    """The backtrace to store for ``backtrace=True`` (all lines) or ``backtrace=N`` (first N)."""
    if option is None or option is False or option == 0:
        return None
    lines = [line.rstrip("\n") for line in traceback.format_exception(exc)]
    flat = [part for line in lines for part in line.split("\n") if part]
    if option is True:
        return flat
    return flat[: int(option)] if isinstance(option, int) else None


def decide(  # noqa: PLR0912 - Sidekiq's rules read best as one sequence
    payload: dict[str, Any],
    exc: BaseException,
    *,
    now: float,
    jitter: float,
    default_max_retries: int,
    retry_in: Callable[[int, BaseException, dict[str, Any]], Any] | None = None,
    default_backtrace: int = 0,
) -> Decision:
    """Decide the fate of ``payload`` after ``exc``; returns the updated payload to store."""
    job = dict(payload)
    retry = job.get("retry", True)
    if retry is False:
        return Decision(Outcome.DISCARD, job)
    if job.get("retry_queue"):
        job["queue"] = job["retry_queue"]
    job["error_message"] = error_message(exc)
    job["error_class"] = error_class(exc)
    previous = job.get("retry_count")
    if isinstance(previous, int) and not isinstance(previous, bool):
        count = previous + 1
        job["retried_at"] = now
    else:
        count = 0
        job["failed_at"] = now
    job["retry_count"] = count
    # A job's own ``backtrace`` option wins; ``Settings.backtrace_lines`` is the default.
    lines = backtrace_lines(exc, job.get("backtrace", default_backtrace or None))
    if lines is not None:
        job["error_backtrace"] = compress_backtrace(lines)

    retry_for = job.get("retry_for")
    if isinstance(retry_for, int | float) and not isinstance(retry_for, bool):
        first = job.get("failed_at", now)
        if not isinstance(first, int | float) or first + retry_for < now:
            return _exhausted(job)
    elif count >= max_attempts(retry, default_max_retries):
        return _exhausted(job)

    delay: float = backoff(count, jitter)
    if retry_in is not None:
        try:
            custom = retry_in(count, exc, job)
        except Exception:
            custom = None  # a broken hook falls back to the default backoff, as in Sidekiq
        if custom == "discard":  # Sidekiq's :discard: gone, no exhaustion hooks
            return Decision(Outcome.DISCARD, job)
        if custom == "kill":
            return _exhausted(job)
        if isinstance(custom, int | float) and not isinstance(custom, bool):
            delay = float(custom)
    return Decision(Outcome.RETRY, job, at=now + delay)


def _exhausted(job: dict[str, Any]) -> Decision:
    if job.get("dead") is False:
        return Decision(Outcome.DISCARD, job, exhausted=True)
    return Decision(Outcome.DEAD, job, exhausted=True)
