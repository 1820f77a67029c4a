"""The execution context of one job run, reachable from inside the job.

Function-style jobs reach it with :func:`current_job`; class-style jobs have it bound to
``self``. It is a ``contextvars`` value, so it is right in threads and asyncio tasks alike.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "henchman_current_job", default=None
)


def _never() -> bool:
    return False


@dataclass(eq=False, slots=True)
class JobContext:
    """One execution of a job: its payload, where it came from, and the stop signals.

    ``interrupted()`` is true once the process has begun to stop (TERM); ``quieting()`` is true
    once it has stopped fetching (TSTP, or a stop). Iterable jobs checkpoint on either.
    """

    payload: dict[str, Any]
    queue: str
    interrupted: Callable[[], bool] = _never
    instance: Any = None
    quieting: Callable[[], bool] = _never
    #: The app running the job (``None`` when built outside a worker).
    app: Any = None
    #: Facts a middleware hands to what runs after the job (e.g. the return value for the
    #: result store), keyed by the middleware's name.
    notes: dict[str, Any] = field(default_factory=dict, init=False)
    _logger: logging.LoggerAdapter[logging.Logger] | None = field(default=None, init=False)

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry this job's jid, class and queue (made on first use)."""
        if self._logger is None:
            self._logger = logging.LoggerAdapter(
                logging.getLogger("henchman.job"),
                {"jid": self.jid, "job_class": self.payload.get("class"), "queue": self.queue},
            )
        return self._logger

    @property
    def jid(self) -> str:
        """The job id (24 hex characters)."""
        return str(self.payload.get("jid", ""))

    @property
    def retry_count(self) -> int:
        """How many times this job has been retried (0 before the first retry)."""
        count = self.payload.get("retry_count")
        return count + 1 if isinstance(count, int) and not isinstance(count, bool) else 0

    @property
    def args(self) -> list[Any]:
        """The job's arguments as decoded from JSON."""
        return list(self.payload.get("args", []))

    def activate(self) -> contextvars.Token[JobContext | None]:
        """Make this the current job for the running thread or task; returns the reset token."""
        return _current.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[JobContext | None]) -> None:
        """Undo :meth:`activate`."""
        _current.reset(token)


def current_job() -> JobContext | None:
    """The job running in this thread or task, or ``None`` outside a job."""
    return _current.get()
