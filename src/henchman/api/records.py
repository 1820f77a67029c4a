"""One job as the admin API shows it: the raw bytes from Redis plus a tolerant view of them.

A :class:`JobRecord` never raises for bad data. Redis may hold anything (a payload written by an
old Sidekiq, by hand, or truncated), and one corrupt entry must not make a whole page unlistable:
such a record keeps its raw text, an ``error`` saying why it could not be read, and answers every
property with an empty value. Deleting or moving a record always uses its exact raw bytes, so even
an entry that cannot be parsed can be removed.

Timestamps are float epoch seconds; Sidekiq 8's integer milliseconds are converted
(:func:`henchman.payload.epoch_seconds`).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from henchman import payload as wire
from henchman.crypto import redact_args
from henchman.errors import PayloadError
from henchman.retry import decompress_backtrace

__all__ = ["JobRecord"]

#: Job classes that wrap another (Rails ActiveJob on Sidekiq): show the wrapped class instead.
_WRAPPERS = frozenset(
    {"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper", "Sidekiq::ActiveJob::Wrapper"}
)


class JobRecord:
    """A job payload read from a queue, a sorted set or a process's work hash.

    ``raw`` is the exact member/element bytes; ``item`` the decoded JSON object (``{}`` when the
    bytes are not a JSON object); ``error`` is ``None`` for a well-formed payload, else the reason
    it is not one. ``score`` is the sorted-set score (epoch seconds) for sorted-set entries.
    """

    __slots__ = ("_queue", "error", "item", "raw", "score")

    def __init__(
        self, raw: bytes | str, *, queue: str | None = None, score: float | None = None
    ) -> None:
        self.raw: bytes = raw.encode() if isinstance(raw, str) else raw
        self.score = score
        self._queue = queue
        self.error: str | None = None
        self.item: dict[str, Any] = {}
        try:
            self.item = wire.decode(self.raw)
        except PayloadError as exc:
            self.error = str(exc)
            try:
                self.item = wire.decode_loose(self.raw)
            except PayloadError:
                self.item = {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobRecord):
            return NotImplemented
        return (self.raw, self.score, self.queue) == (other.raw, other.score, other.queue)

    def __hash__(self) -> int:
        return hash((self.raw, self.score))

    def __repr__(self) -> str:
        return f"<JobRecord jid={self.jid!r} class={self.klass!r} queue={self.queue!r}>"

    @property
    def text(self) -> str:
        """The raw payload as text (undecodable bytes replaced)."""
        return wire.raw_text(self.raw)

    @property
    def digest(self) -> str:
        """A short fingerprint of the exact payload bytes (128 bits of SHA-256, hex): names one
        entry of a list without carrying the whole payload (``Queue.delete_by_digest``)."""
        return hashlib.sha256(self.raw).hexdigest()[:32]

    @property
    def ok(self) -> bool:
        """Whether the payload is a well-formed job."""
        return self.error is None

    @property
    def jid(self) -> str:
        """The job id, or ``""`` if the payload has none."""
        return self._str("jid")

    @property
    def klass(self) -> str:
        """The ``class`` field (the job's wire name), or ``""``."""
        return self._str("class")

    @property
    def display_class(self) -> str:
        """The class to show: the wrapped class for ActiveJob wrappers, else :attr:`klass`."""
        if self.klass in _WRAPPERS:
            wrapped = self.item.get("wrapped")
            if isinstance(wrapped, str) and wrapped:
                return wrapped
            first = self.args[0] if self.args else None
            if isinstance(first, dict) and isinstance(first.get("job_class"), str):
                return str(first["job_class"])
        return self.klass

    @property
    def args(self) -> list[Any]:
        """The job's arguments (``[]`` if missing or not a list)."""
        found = self.item.get("args")
        return found if isinstance(found, list) else []

    @property
    def queue(self) -> str:
        """The queue the record was found in, else the payload's ``queue`` field, else ``""``."""
        return self._queue if self._queue is not None else self._str("queue")

    @property
    def enqueued_at(self) -> float | None:
        """When the job was last pushed to its queue (epoch seconds)."""
        return wire.epoch_seconds(self.item.get("enqueued_at"))

    @property
    def created_at(self) -> float | None:
        """When the job was first created (epoch seconds)."""
        return wire.epoch_seconds(self.item.get("created_at"))

    @property
    def failed_at(self) -> float | None:
        """When the job first failed (epoch seconds)."""
        return wire.epoch_seconds(self.item.get("failed_at"))

    @property
    def retried_at(self) -> float | None:
        """When the job last failed on a retry (epoch seconds)."""
        return wire.epoch_seconds(self.item.get("retried_at"))

    @property
    def at(self) -> float | None:
        """The sorted-set score: run time (schedule, retry) or death time (dead)."""
        return self.score

    @property
    def error_message(self) -> str:
        """The last failure's message, or ``""``."""
        return self._str("error_message")

    @property
    def error_class(self) -> str:
        """The last failure's exception class, or ``""``."""
        return self._str("error_class")

    @property
    def retry_count(self) -> int | None:
        """Retries already used (``-1`` after a manual retry of a first failure), or ``None``."""
        found = self.item.get("retry_count")
        if isinstance(found, bool) or not isinstance(found, int | float):
            return None
        return int(found)

    @property
    def backtrace(self) -> list[str]:
        """The stored backtrace lines; ``[]`` if none. Never raises.

        Sidekiq stores the compressed string form; very old versions stored a plain list, which is
        accepted too. An undecodable value yields one line saying so, so a UI can show it.
        """
        found = self.item.get("error_backtrace")
        if found is None:
            return []
        if isinstance(found, list):
            return [str(line) for line in found]
        if not isinstance(found, str):
            return [f"(error_backtrace is a {type(found).__name__}, not a compressed string)"]
        try:
            lines = decompress_backtrace(found)
        except Exception as exc:  # zlib.error, binascii.Error, ValueError, UnicodeDecodeError
            return [f"(error_backtrace could not be decoded: {type(exc).__name__}: {exc})"]
        if not isinstance(lines, list):
            return [f"(error_backtrace holds a JSON {type(lines).__name__}, not a list)"]
        return [str(line) for line in lines]

    def latency(self, now: float | None = None) -> float:
        """Seconds since the job was enqueued (or created, if never enqueued); 0.0 if unknown."""
        since = self.enqueued_at or self.created_at
        if since is None:
            return 0.0
        return (time.time() if now is None else now) - since

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary for machine output (CLI ``--json``, the Web UI's JSON)."""
        return {
            "jid": self.jid,
            "class": self.display_class,
            "queue": self.queue,
            "args": redact_args(self.item),
            "score": self.score,
            "created_at": self.created_at,
            "enqueued_at": self.enqueued_at,
            "failed_at": self.failed_at,
            "retried_at": self.retried_at,
            "retry_count": self.retry_count,
            "error_class": self.error_class,
            "error_message": self.error_message,
            "error": self.error,
            "raw": None if self.ok else self.text,
        }

    def _str(self, key: str) -> str:
        found = self.item.get(key)
        return found if isinstance(found, str) else ""
