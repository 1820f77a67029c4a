"""The result record of one job, and what each event changes in it. Pure: no I/O, no clock.

Stored as the HASH ``henchman:result:<jid>`` (see ``keys.result``), each field a string:

=================  ==========================================================================
``status``         ``queued``, ``running``, ``retrying`` (failed, a retry is scheduled),
                   ``succeeded`` or ``failed`` (dead or discarded: no more attempts)
``class``          the job's wire name; ``queue``: its queue
``attempts``       runs started (``HINCRBY``, so a run that crashed still counts)
``workers``        the identity of the process of each attempt, one per line
``enqueued_at``    epoch seconds (float), as ``started_at``, ``last_attempted_at``,
                   ``finished_at`` (the last success or final failure)
``value``          the return value, JSON (only once ``succeeded``)
``errors``         JSON list of ``{"class", "message", "traceback", "at"}``, oldest first, at
                   most :data:`MAX_ERRORS` kept
=================  ==========================================================================

The whole hash expires ``result_ttl`` seconds after its last change.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import orjson

from henchman import payload as wire

__all__ = [
    "FINISHED",
    "MAX_ERRORS",
    "STATUSES",
    "ResultRecord",
    "check_value",
    "error_entry",
    "failure_fields",
    "start_fields",
    "success_fields",
    "ttl_of",
]

STATUSES = ("queued", "running", "retrying", "succeeded", "failed")
#: Statuses after which nothing more happens (unless someone retries a dead job by hand).
FINISHED = frozenset({"succeeded", "failed"})
#: Errors kept per record (the newest); each traceback is cut to :data:`MAX_TRACEBACK` chars.
MAX_ERRORS = 10
MAX_TRACEBACK = 20_000


def ttl_of(payload: dict[str, Any], default: float | None) -> float | None:
    """The job's ``result_ttl`` in seconds (payload option, else ``default``); ``None`` = off."""
    value = payload.get("result_ttl", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def check_value(value: Any) -> bytes:
    """The return value as JSON; ``TypeError`` naming the bad part if it is not JSON-native."""
    try:
        wire.check_args([value])
    except TypeError as exc:
        raise TypeError(
            "the job's return value cannot be stored as a result: "
            + str(exc).replace("args[0]", "return value", 1)
        ) from None
    return orjson.dumps(value)


def start_fields(payload: dict[str, Any], queue: str, now: float) -> dict[str, str]:
    """Fields written when a run starts (``attempts`` and ``workers`` are appended apart)."""
    fields = {
        "status": "running",
        "class": str(payload.get("class")),
        "queue": queue,
        "started_at": repr(now),
        "last_attempted_at": repr(now),
    }
    enqueued = wire.epoch_seconds(payload.get("enqueued_at") or payload.get("created_at"))
    if enqueued is not None:
        fields["enqueued_at"] = repr(enqueued)
    return fields


def success_fields(value_json: bytes, now: float) -> dict[str, str]:
    """Fields written with the acknowledgement of a successful run."""
    return {"status": "succeeded", "value": value_json.decode(), "finished_at": repr(now)}


def error_entry(exc: BaseException, now: float) -> dict[str, Any]:
    """One ``errors`` entry: exception class path, message, traceback, time."""
    kind = type(exc)
    text = "".join(traceback.format_exception(exc))
    return {
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(exc)[:10_000],
        "traceback": text[-MAX_TRACEBACK:],
        "at": now,
    }


def failure_fields(*, final: bool, now: float) -> dict[str, str]:
    """Fields written with a failed run's retry or dead record (its error entry is appended to
    ``errors`` by ``result_fail.lua``, see :func:`error_entry`)."""
    fields = {"status": "failed" if final else "retrying"}
    if final:
        fields["finished_at"] = repr(now)
    return fields


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A result record as read from Redis."""

    jid: str
    status: str
    job_class: str = ""
    queue: str = ""
    attempts: int = 0
    workers: list[str] = field(default_factory=list)
    enqueued_at: float | None = None
    started_at: float | None = None
    last_attempted_at: float | None = None
    finished_at: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    has_value: bool = False
    #: The arguments as the pusher recorded them (Django's backend: ``[args, kwargs]``).
    args: Any = None
    _value: Any = None

    @classmethod
    def from_hash(cls, jid: str, raw: dict[Any, Any]) -> ResultRecord | None:
        """Parse ``HGETALL``'s reply; ``None`` for an empty reply (no record)."""
        data = {_text(k): v for k, v in raw.items()}
        if not data:
            return None
        value_raw = data.get("value")
        try:
            errors = orjson.loads(data["errors"]) if data.get("errors") else []
        except orjson.JSONDecodeError:
            errors = []
        try:
            args = orjson.loads(data["args"]) if data.get("args") else None
        except orjson.JSONDecodeError:
            args = None
        try:
            attempts = int(data.get("attempts") or 0)
        except ValueError:
            attempts = 0
        return cls(
            jid=jid,
            status=_text(data.get("status")) or "queued",
            job_class=_text(data.get("class")),
            queue=_text(data.get("queue")),
            attempts=attempts,
            workers=[w for w in _text(data.get("workers")).split("\n") if w],
            enqueued_at=_float(data.get("enqueued_at")),
            started_at=_float(data.get("started_at")),
            last_attempted_at=_float(data.get("last_attempted_at")),
            finished_at=_float(data.get("finished_at")),
            errors=errors if isinstance(errors, list) else [],
            has_value=value_raw is not None,
            args=args,
            _value=orjson.loads(value_raw) if value_raw is not None else None,
        )

    @property
    def finished(self) -> bool:
        """Succeeded or failed for good."""
        return self.status in FINISHED

    @property
    def value(self) -> Any:
        """The return value; ``ValueError`` unless the job succeeded (``None`` is a value)."""
        if self.status != "succeeded":
            raise ValueError(f"job {self.jid} has no return value: its status is {self.status}")
        return self._value

    @property
    def last_error(self) -> dict[str, Any] | None:
        """The newest ``errors`` entry, or ``None``."""
        return self.errors[-1] if self.errors else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the Web UI's and the CLI's)."""
        return {
            "jid": self.jid, "status": self.status, "class": self.job_class, "queue": self.queue,
            "attempts": self.attempts, "workers": self.workers, "enqueued_at": self.enqueued_at,
            "started_at": self.started_at, "last_attempted_at": self.last_attempted_at,
            "finished_at": self.finished_at, "errors": self.errors,
            "value": self._value if self.status == "succeeded" else None,
        }  # fmt: skip
