"""Iterable jobs' progress, for the CLI and the Web UI.

An iterable job that is running, or waiting in a queue/schedule/retry set after an interruption
or an error, has a state hash ``it-<jid>`` (Sidekiq 7.3 layout, so Ruby Sidekiq's iterable jobs
show up too) and possibly progress keys (processed-id set, row ledger, offloaded files)::

    from henchman.api import IterationState

    state = IterationState(client)
    record = state.find("b4a577edbccf1d805744efa9")
    if record is not None:
        print(record.executions, record.cursor, record.runtime, record.ledger.failed)
    state.cancel("b4a577edbccf1d805744efa9")

A completed job has no state; its row ledger stays readable for ``keep_ledger_for`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from henchman import keys
from henchman.api._common import count, text
from henchman.iteration import state as iteration_state
from henchman.iteration.cancel import request_cancel
from henchman.iteration.offload import Manifest
from henchman.iteration.progress import LedgerReport, decode_errors, rows_from_bitmap

__all__ = ["IterationRecord", "IterationState"]


def _glob(text: str) -> str:
    """``text`` with the characters SCAN's MATCH treats specially escaped."""
    return "".join("\\" + char if char in "*?[]\\{}" else char for char in text)


@dataclass(frozen=True, slots=True)
class IterationRecord:
    """What Redis holds about one iterable job."""

    jid: str
    #: Runs started so far (``ex``); 0 if the job has not run yet (e.g. cancelled before).
    executions: int
    #: Cursor of the next unprocessed item (``c``), ``None`` = from the beginning.
    cursor: Any
    #: Cumulative runtime in seconds (``rt``).
    runtime: float
    #: Epoch seconds of the cancellation, if cancelled and not yet seen by the job.
    cancelled_at: int | None
    #: Seconds until the state expires (``None``: no state hash, only progress keys).
    expires_in: int | None
    #: Size of the processed-id set (``progress.done``).
    done_ids: int
    ledger: LedgerReport
    #: Offloaded temporary files, if the job has any waiting in its store.
    files: Manifest | None

    @property
    def has_state(self) -> bool:
        """Whether the job is running or waiting (its ``it-<jid>`` hash exists)."""
        return self.expires_in is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "jid": self.jid,
            "executions": self.executions,
            "cursor": self.cursor,
            "runtime": self.runtime,
            "cancelled_at": self.cancelled_at,
            "expires_in": self.expires_in,
            "done_ids": self.done_ids,
            "ledger": self.ledger.to_dict(),
            "files": None
            if self.files is None
            else {"cursor": self.files.cursor, "files": list(self.files.files)},
        }


class IterationState:
    """Read (and cancel) iterable jobs by jid."""

    def __init__(self, client: redis.Redis, *, layout: keys.KeyLayout | None = None) -> None:
        self.client = client
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)

    def find(self, jid: str) -> IterationRecord | None:
        """Everything about job ``jid``, or ``None`` if Redis holds nothing for it."""
        pipe = self.client.pipeline(transaction=False)
        layout = self.layout
        pipe.hgetall(layout.iteration_state(jid))
        pipe.ttl(layout.iteration_state(jid))
        pipe.scard(layout.iteration_done_ids(jid))
        pipe.bitcount(layout.iteration_rows(jid))
        pipe.hgetall(layout.iteration_row_errors(jid))
        pipe.get(layout.iteration_files(jid))
        fields, ttl, done, processed, errors, files = pipe.execute()
        if not (fields or done or processed or errors or files):
            return None
        checkpoint = iteration_state.decode(fields)
        return IterationRecord(
            jid=jid,
            executions=checkpoint.executions,
            cursor=checkpoint.cursor,
            runtime=checkpoint.runtime,
            cancelled_at=checkpoint.cancelled,
            expires_in=count(ttl) if fields else None,
            done_ids=count(done),
            ledger=LedgerReport(count(processed), decode_errors(errors)),
            files=Manifest.decode(files),
        )

    def jids(self) -> Iterator[str]:
        """The jids of every job with a state hash (``SCAN``: cost grows with the keyspace)."""
        seen: set[str] = set()
        prefix = self.layout.iteration_state("")
        suffix = ""
        if prefix.endswith("{}"):  # the cluster layout: it-{<jid>}
            prefix, suffix = prefix[:-1], "}"
        for key in self.client.scan_iter(match=_glob(prefix) + "*", count=1000, _type="hash"):
            jid = text(key)[len(prefix) :]
            if suffix:
                jid = jid.removesuffix(suffix)
            if jid not in seen:
                seen.add(jid)
                yield jid

    def all(self, limit: int = 100) -> list[IterationRecord]:
        """Up to ``limit`` jobs with a state hash, most executed first."""
        records = []
        for jid in self.jids():
            record = self.find(jid)
            if record is not None:
                records.append(record)
            if len(records) >= limit:
                break
        return sorted(records, key=lambda r: (-r.executions, r.jid))

    def processed_rows(self, jid: str) -> list[int]:
        """Every row number the job's ledger marked processed, ascending."""
        bitmap: bytes | None = self.client.get(self.layout.iteration_rows(jid))  # type: ignore[assignment]
        return rows_from_bitmap(bitmap)

    def cancel(self, jid: str) -> int:
        """Cancel job ``jid`` (see :func:`henchman.cancel`); returns the cancellation time."""
        return request_cancel(self.client, jid)
