"""Live worker processes and the jobs they are running.

Every process (henchman or Ruby Sidekiq) keeps itself in the ``processes`` SET and writes a hash
named by its identity (``info`` JSON, ``busy``, ``beat``, ``quiet``, ``rss``, ``rtt_us`` and, from
Sidekiq 8, ``concurrency``; henchman adds ``placement``, where its threads run) with a 60 s TTL,
plus a running-work hash ``<identity>:work`` (``<identity>:workers`` in Sidekiq 6.4).

Reading the set also forgets processes that died without cleaning up, as Sidekiq's API does, but
more carefully: a member is removed only when its hash no longer exists at all (checked and removed
atomically by ``admin_prune_processes.lua``). A hash with a missing or unreadable ``info`` is
skipped, never removed: that process may be alive.

Remote control uses Sidekiq's own mechanism, so Sidekiq's Web UI buttons and henchman's act alike:
``LPUSH <identity>-signals TSTP|TERM|TTIN`` with a 60 s expiry; each process pops one per beat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from henchman import keys
from henchman.api._common import count, members, text
from henchman.api.records import JobRecord
from henchman.payload import epoch_seconds
from henchman.redis.scripts import source

__all__ = ["CapsuleRecord", "ProcessRecord", "ProcessSet", "WorkRecord", "WorkSet"]

_FIELDS = ("info", "busy", "beat", "quiet", "rss", "rtt_us", "concurrency", "placement")
#: A signal not popped within this many seconds is dropped (the process is probably gone).
SIGNAL_TTL = 60


@dataclass(frozen=True, slots=True)
class CapsuleRecord:
    """One capsule of a process: its name, queues and thread / async concurrency."""

    name: str
    queues: list[str]
    concurrency: int
    async_concurrency: int


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    """One live process as its last heartbeat described it."""

    identity: str
    info: dict[str, Any]
    busy: int
    beat: float | None
    quiet: bool
    rss: int
    rtt_us: int
    concurrency: int
    #: Where a henchman process runs its threads (``off``, ``auto: CPU 1``, ...); ``""`` if the
    #: process does not say (Ruby Sidekiq, older henchman).
    placement: str = ""

    @property
    def hostname(self) -> str:
        return str(self.info.get("hostname", ""))

    @property
    def pid(self) -> int:
        return count(self.info.get("pid"))

    @property
    def tag(self) -> str:
        return str(self.info.get("tag") or "")

    @property
    def queues(self) -> list[str]:
        found = self.info.get("queues")
        return [str(q) for q in found] if isinstance(found, list) else []

    @property
    def capsules(self) -> list[CapsuleRecord]:
        """The process's capsules (henchman's ``capsules`` field); empty for processes that do
        not describe them (Ruby Sidekiq, older henchman)."""
        found = self.info.get("capsules")
        if not isinstance(found, dict):
            return []
        return [
            CapsuleRecord(
                str(name),
                [str(q) for q in body.get("queues", []) if isinstance(q, str)],
                count(body.get("concurrency")),
                count(body.get("async_concurrency")),
            )
            for name, body in found.items()
            if isinstance(body, dict)
        ]

    @property
    def labels(self) -> list[str]:
        found = self.info.get("labels")
        return [str(label) for label in found] if isinstance(found, list) else []

    @property
    def started_at(self) -> float | None:
        return epoch_seconds(self.info.get("started_at"))

    @property
    def version(self) -> str:
        return str(self.info.get("version", ""))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "identity": self.identity, "hostname": self.hostname, "pid": self.pid,
            "tag": self.tag, "queues": self.queues, "labels": self.labels,
            "started_at": self.started_at, "version": self.version, "busy": self.busy,
            "concurrency": self.concurrency, "quiet": self.quiet, "beat": self.beat,
            "rss": self.rss, "rtt_us": self.rtt_us, "placement": self.placement,
            "capsules": [dataclasses.asdict(c) for c in self.capsules],
        }  # fmt: skip


class ProcessSet:
    """The live processes. Iterating reads Redis each time."""

    def __init__(self, client: redis.Redis, *, layout: keys.KeyLayout | None = None) -> None:
        self._redis = client
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)
        self._prune = client.register_script(source("admin_prune_processes"))

    def __iter__(self) -> Iterator[ProcessRecord]:
        """Live processes sorted by identity; forgets members whose hash has expired."""
        return iter(self.all())

    def all(self) -> list[ProcessRecord]:
        """Live processes sorted by identity; forgets members whose hash has expired."""
        identities = members(self._redis, self.layout.PROCESSES)
        pipe = self._redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hmget(self.layout.process(identity), list(_FIELDS))
        found: list[ProcessRecord] = []
        missing: list[str] = []
        for identity, values in zip(identities, pipe.execute(), strict=True):
            if values[0] is None:
                missing.append(identity)
                continue
            record = _process_record(identity, values)
            if record is not None:
                found.append(record)
        if missing:
            self._prune(
                keys=[self.layout.PROCESSES, *(self.layout.process(i) for i in missing)],
                args=missing,
            )
        return found

    def find(self, identity: str) -> ProcessRecord | None:
        """The live process ``identity``, or None."""
        return next((p for p in self.all() if p.identity == identity), None)

    @property
    def leader(self) -> str | None:
        """The identity of the leader process (``dear-leader``), or None while nobody leads."""
        value = self._redis.get(self.layout.LEADER)
        return text(value) if value is not None else None

    @property
    def size(self) -> int:
        """Members of the ``processes`` set."""
        return int(self._redis.scard(self.layout.PROCESSES))

    @property
    def total_concurrency(self) -> int:
        """Sum of every live process's concurrency."""
        return sum(p.concurrency for p in self.all())

    @property
    def total_busy(self) -> int:
        """Jobs running across live processes."""
        return sum(p.busy for p in self.all())

    @property
    def total_rss(self) -> int:
        """Sum of live processes' resident memory, in KB."""
        return sum(p.rss for p in self.all())

    def quiet(self, identity: str) -> None:
        """Ask ``identity`` to stop fetching new jobs (``TSTP``) at its next beat."""
        self._signal(identity, "TSTP")

    def stop(self, identity: str) -> None:
        """Ask ``identity`` to shut down gracefully (``TERM``) at its next beat."""
        self._signal(identity, "TERM")

    def dump_stacks(self, identity: str) -> None:
        """Ask ``identity`` to log every thread's stack (``TTIN``) at its next beat."""
        self._signal(identity, "TTIN")

    def quiet_all(self) -> int:
        """:meth:`quiet` every live process; returns how many were signalled."""
        return self._signal_all("TSTP")

    def stop_all(self) -> int:
        """:meth:`stop` every live process; returns how many were signalled."""
        return self._signal_all("TERM")

    def _signal(self, identity: str, signal: str) -> None:
        key = self.layout.process_signals(identity)
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(key, signal)
        pipe.expire(key, SIGNAL_TTL)
        pipe.execute()

    def _signal_all(self, signal: str) -> int:
        processes = self.all()
        for process in processes:
            self._signal(process.identity, signal)
        return len(processes)


def _process_record(identity: str, values: list[Any]) -> ProcessRecord | None:
    """The record for one HMGET reply, or None when ``info`` is not a JSON object."""
    raw_info, busy, beat, quiet, rss, rtt_us, concurrency, placement = values
    try:
        info = orjson.loads(raw_info)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(info, dict):
        return None
    try:
        beat_at: float | None = float(beat) if beat is not None else None
    except ValueError:
        beat_at = None
    return ProcessRecord(
        identity=identity, info=info, busy=count(busy), beat=beat_at,
        quiet=text(quiet) == "true", rss=count(rss), rtt_us=count(rtt_us),
        concurrency=count(concurrency) if concurrency is not None else count(
            info.get("concurrency")
        ),
        placement=text(placement),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkRecord:
    """One job running in one process: ``thread_id`` is the process's id for the thread/task."""

    identity: str
    thread_id: str
    queue: str
    run_at: float | None
    job: JobRecord
    error: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "identity": self.identity, "thread_id": self.thread_id, "queue": self.queue,
            "run_at": self.run_at, "job": self.job.to_dict(), "error": self.error,
        }  # fmt: skip


class WorkSet:
    """Jobs running right now across live processes, oldest start first."""

    def __init__(self, client: redis.Redis, *, layout: keys.KeyLayout | None = None) -> None:
        self._redis = client
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)

    def __iter__(self) -> Iterator[WorkRecord]:
        return iter(self.all())

    def all(self) -> list[WorkRecord]:
        """Every running job of every process whose heartbeat hash still exists."""
        identities = members(self._redis, self.layout.PROCESSES)
        pipe = self._redis.pipeline(transaction=False)
        for identity in identities:
            pipe.exists(self.layout.process(identity))
            pipe.hgetall(self.layout.process_work(identity))
            pipe.hgetall(self.layout.process_workers(identity))
        replies = pipe.execute()
        found: list[WorkRecord] = []
        for index, identity in enumerate(identities):
            alive, work, workers = replies[3 * index : 3 * index + 3]
            if not alive:
                continue
            for thread_id, value in (work or workers).items():  # 6.4 writes only ":workers"
                found.append(_work_record(identity, text(thread_id), value))
        found.sort(key=lambda w: (w.run_at is None, w.run_at or 0.0, w.identity, w.thread_id))
        return found

    @property
    def size(self) -> int:
        """Jobs running: the sum of every process's ``busy`` (as Sidekiq counts it)."""
        identities = members(self._redis, self.layout.PROCESSES)
        pipe = self._redis.pipeline(transaction=False)
        for identity in identities:
            pipe.hget(self.layout.process(identity), "busy")
        return sum(count(busy) for busy in pipe.execute())

    def find(self, jid: str) -> WorkRecord | None:
        """The running job with ``jid``, or None."""
        return next((w for w in self.all() if w.job.jid == jid), None)


def _work_record(identity: str, thread_id: str, value: bytes) -> WorkRecord:
    """Parse one work-hash value; payload may be a JSON object (henchman, Sidekiq 6) or a JSON
    string holding one (Sidekiq 7/8). Never raises: a bad value yields a record with ``error``."""
    try:
        entry = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return WorkRecord(identity, thread_id, "", None, JobRecord(value), f"not JSON: {exc}")
    if not isinstance(entry, dict):
        return WorkRecord(identity, thread_id, "", None, JobRecord(value), "not a JSON object")
    job_payload = entry.get("payload")
    raw = job_payload if isinstance(job_payload, str) else orjson.dumps(job_payload)
    queue = entry.get("queue")
    return WorkRecord(
        identity,
        thread_id,
        queue if isinstance(queue, str) else "",
        epoch_seconds(entry.get("run_at")),
        JobRecord(raw, queue=None),
    )
