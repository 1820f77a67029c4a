"""Reconciling a worker's working lists with the jobs it knows it holds.

Why: a fetch whose reply never arrived can still run on the server. When Redis hangs (a stopped
process, a frozen VM, a network partition that heals) the client times out and treats the fetch
as "nothing fetched", but the command sits in the server's input buffer and moves jobs into this
process's working list when the server wakes; redis-py may even resend a timed-out command and
get the reply of the second copy only. Those jobs are held in Redis by a live worker that does
not know it holds them: orphan recovery skips them (their owner is alive), and without this
module they would wait for the worker's next stop.

How: every job a fetch returns is entered in a :class:`Ledger` (the process's in-flight set) and
leaves it only once Redis has confirmed the job's acknowledgement, retry/dead record or give-back.
A reconcile lists each working list, and gives back to the head of its queue, atomically and
only if still there (``reclaim.lua``), every entry the ledger does not hold. It runs at every
heartbeat and in the fetch round right after a failed one, so a job fetched by a lost request is
running again within one heartbeat of Redis answering.

Guarantees:

* No fetch is in flight while a reconcile decides: fetches pass through a :class:`FetchGate` that
  a reconcile closes (waiting for the fetches inside to finish), so a job is in the ledger before
  anyone can see it in a working list as unheld. A job a thread is just starting is therefore
  never given back.
* A finished job whose acknowledgement has not reached Redis yet stays in the ledger: it is never
  given back to run a second time.
* The working list is read before the ledger is copied, so a job acknowledged in between is
  listed but gone from Redis when ``reclaim.lua`` looks for it, and nothing happens to it.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import redis

from henchman import keys

log = logging.getLogger("henchman")


class HeldUnit(Protocol):
    """What the ledger needs of a unit of work: where it is held, and its bytes."""

    @property
    def working_key(self) -> str: ...

    @property
    def raw(self) -> bytes: ...


class FetchGate:
    """Fetches enter and leave freely, many at once; a reconcile closes the gate, waits until no
    fetch is inside, and keeps new ones out until it is done (a reconcile is a few ms)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False

    def try_enter(self) -> bool:
        """Enter unless a reconcile has closed the gate (for callers that must not block)."""
        with self._cond:
            if self._closed:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        """Leave after :meth:`enter` or a successful :meth:`try_enter`."""
        with self._cond:
            self._inside -= 1
            if not self._inside:
                self._cond.notify_all()

    def enter(self) -> None:
        """Enter for one fetch round trip, waiting while a reconcile runs; :meth:`leave` after."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._inside += 1

    @contextmanager
    def closed(self, timeout: float) -> Iterator[bool]:
        """Close the gate; yield whether every fetch left within ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._closed, timeout):
                yield False
                return
            self._closed = True
            empty = self._cond.wait_for(lambda: self._inside == 0, timeout)
        try:
            yield empty
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class Ledger:
    """The jobs this process holds in its working lists: a thread-safe multiset of
    (working-list key, raw payload)."""

    def __init__(self) -> None:
        self._held: collections.Counter[tuple[str, bytes]] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, units: Iterable[HeldUnit]) -> None:
        """Note jobs a fetch returned (before the fetch leaves the gate)."""
        with self._lock:
            for unit in units:
                self._held[unit.working_key, unit.raw] += 1

    def discard(self, units: Iterable[HeldUnit]) -> None:
        """Forget jobs Redis no longer keeps in the working list (acknowledged, recorded or
        given back)."""
        with self._lock:
            for unit in units:
                entry = (unit.working_key, unit.raw)
                if self._held[entry] <= 1:
                    del self._held[entry]
                else:
                    self._held[entry] -= 1

    def held_in(self, working_key: str) -> collections.Counter[bytes]:
        """How many copies of each payload this process holds in one working list."""
        with self._lock:
            return collections.Counter(
                {raw: n for (key, raw), n in self._held.items() if key == working_key}
            )

    def clear(self) -> None:
        """Forget everything (after a final requeue gave every job back)."""
        with self._lock:
            self._held.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(self._held.values())


def strays(listed: Sequence[bytes], held: Mapping[bytes, int]) -> list[bytes]:
    """The entries of a working list (as listed, newest first) that nobody holds: each held copy
    accounts for one listed copy of the same bytes."""
    remaining = collections.Counter(held)
    out = []
    for raw in listed:
        if remaining[raw] > 0:
            remaining[raw] -= 1
        else:
            out.append(raw)
    return out


class Reconciler:
    """The gate, the ledger and the reconcile step shared by a capsule's fetchers."""

    def __init__(self) -> None:
        self.gate = FetchGate()
        self.ledger = Ledger()
        #: Held for a whole reconcile (one at a time).
        self._lock = threading.Lock()
        #: Guards only the failure count: never held across I/O (the event loop takes it).
        self._count_lock = threading.Lock()
        self._failures = 0
        self._settled = 0

    def fetch_failed(self) -> None:
        """A fetch's outcome is unknown (its reply was lost): reconcile at the next chance."""
        with self._count_lock:
            self._failures += 1

    @property
    def suspect(self) -> bool:
        """Whether a fetch failed since the last complete reconcile."""
        return self._failures != self._settled

    def reconcile(
        self,
        client: redis.Redis,
        scripts: Any,
        working: Mapping[str, str],
        *,
        timeout: float,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> int | None:
        """Give back every job of ``working`` (queue -> working-list key) that this process does
        not hold; return how many, or ``None`` if a fetch stayed in flight past ``timeout`` s or
        another reconcile is running. Redis errors propagate (the caller retries later)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            failures = self._failures
            moved = 0
            with self.gate.closed(timeout) as quiet:
                if not quiet:
                    return None
                for queue, key in working.items():
                    listed = cast(list[bytes], client.lrange(key, 0, -1))
                    if not listed:
                        continue
                    lost = strays(listed, self.ledger.held_in(key))
                    if lost:
                        moved += int(scripts("reclaim", [key, layout.queue(queue)], lost))
            self._settled = failures
        finally:
            self._lock.release()
        if moved:
            log.warning(
                "gave back %d job(s) that a fetch with a lost reply had moved to this worker's "
                "working lists; they run again",
                moved,
            )
        return moved
