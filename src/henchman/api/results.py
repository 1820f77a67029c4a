"""Job results as a script or a web request reads them: ``JobResult(jid)``.

Only jobs that keep a result have one (``result_ttl`` on the job or in the settings): see
:mod:`henchman.results`. Statuses: ``queued``, ``running``, ``retrying``, ``succeeded``,
``failed``; :attr:`JobResult.status` is ``None`` when Redis holds no record (the job keeps no
result, has not been pushed by a client that writes one, or the record expired).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import redis

from henchman.results.record import FINISHED, ResultRecord
from henchman.results.store import ResultStore

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["JobResult"]

_POLL = 0.05
_MAX_POLL = 0.5


def _default() -> Henchman:
    from henchman.app import default_app

    return default_app()


def _client(client: redis.Redis | None, app: Henchman | None) -> redis.Redis:
    if client is not None:
        return client
    return (app or _default()).client.redis


class JobResult:
    """The result record of job ``jid``, read when made and on :meth:`refresh`."""

    def __init__(
        self, jid: str, client: redis.Redis | None = None, *, app: Henchman | None = None
    ) -> None:
        self.jid = jid
        self._store: Any = ResultStore(_client(client, app))
        if client is None and (app or _default()).settings.shards:
            from henchman.shards.admin import ResultStores  # a job's record is on its shard

            self._store = ResultStores((app or _default()).client)
        self.record: ResultRecord | None = self._store.read(jid)

    def refresh(self) -> JobResult:
        """Read the record again; returns ``self``."""
        self.record = self._store.read(self.jid)
        return self

    @property
    def status(self) -> str | None:
        """``queued``/``running``/``retrying``/``succeeded``/``failed``, or ``None``."""
        return self.record.status if self.record is not None else None

    @property
    def finished(self) -> bool:
        """Succeeded, or failed for good."""
        return self.record is not None and self.record.status in FINISHED

    @property
    def value(self) -> Any:
        """The return value; ``ValueError`` unless the job succeeded."""
        if self.record is None:
            raise ValueError(f"job {self.jid} has no result record")
        return self.record.value

    def __getattr__(self, name: str) -> Any:
        # attempts, workers, errors, last_error, enqueued_at, started_at, finished_at, ...
        if name.startswith("_") or name == "record":
            raise AttributeError(name)
        if self.record is None:
            raise AttributeError(f"job {self.jid} has no result record (no {name})")
        return getattr(self.record, name)

    def wait(self, timeout: float = 30.0) -> JobResult:
        """Poll until the job succeeded or failed for good; ``TimeoutError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        pause = _POLL
        while not self.refresh().finished:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {self.jid} not finished after {timeout} s "
                                   f"(status {self.status})")  # fmt: skip
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL)
        return self

    async def async_wait(self, timeout: float = 30.0) -> JobResult:
        """Asyncio twin of :meth:`wait` (reads off the event loop's thread)."""
        deadline = time.monotonic() + timeout
        pause = _POLL
        while not (await asyncio.to_thread(self.refresh)).finished:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {self.jid} not finished after {timeout} s "
                                   f"(status {self.status})")  # fmt: skip
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL)
        return self

    def __await__(self) -> Any:
        """``await JobResult(jid)`` waits up to 30 s, like :meth:`async_wait`."""
        return self.async_wait().__await__()
