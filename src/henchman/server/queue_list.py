"""The queues a fetcher may take from right now: its capsule's queues minus the paused ones.

Pausing is the fetcher's queue list, not a new fetch path. The launcher reads the ``paused`` set
(Sidekiq Pro layout) every :data:`PAUSE_REFRESH` seconds in its housekeeping loop and stores the
answer in one :class:`PausedQueues` shared by every capsule of the process; each fetcher asks its
:class:`QueueList` for the active queues before a fetch round. That costs no round trip on the hot
path (an attribute read and an identity comparison per round), and a change is seen within
``PAUSE_REFRESH`` plus one blocking fetch (:data:`PAUSE_BLOCK`): under a second.

A paused queue's jobs are not touched: they stay in ``queue:<name>`` in their order, so nothing is
lost or reordered, and they run when the queue is unpaused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import overload

import redis

from henchman import keys
from henchman.config import QueueSpec

log = logging.getLogger("henchman")

#: How often (s) the launcher reads the ``paused`` set.
PAUSE_REFRESH = 0.4
#: Longest blocking fetch (s) on one queue, so a queue paused while a worker blocks on it is
#: left alone within PAUSE_REFRESH + PAUSE_BLOCK <= 1 s.
PAUSE_BLOCK = 0.5
#: How long (s) a fetcher whose every queue is paused waits before looking again (no spinning).
ALL_PAUSED_WAIT = 0.25


class PausedQueues:
    """The ``paused`` set as this process last read it (one per process, shared by capsules)."""

    def __init__(self, names: frozenset[str] = frozenset()) -> None:
        #: Replaced (never mutated) on a change, so readers compare identities.
        self.names = names

    def refresh(self, client: redis.Redis, layout: keys.KeyLayout = keys.SIDEKIQ) -> None:
        """Read the ``paused`` set (one SMEMBERS); log what changed."""
        found = frozenset(
            m.decode() if isinstance(m, bytes) else str(m) for m in client.smembers(layout.PAUSED)
        )
        self.update(found)

    def update(self, found: frozenset[str]) -> None:
        """Store a new reading of the set."""
        if found == self.names:
            return
        for name in sorted(found - self.names):
            log.info("queue %r is paused: not fetching from it", name)
        for name in sorted(self.names - found):
            log.info("queue %r is unpaused", name)
        self.names = found


class QueueList(Sequence[QueueSpec]):
    """A capsule's configured queues (as a sequence) and, by :meth:`active`, the unpaused ones."""

    def __init__(self, queues: Sequence[QueueSpec], paused: PausedQueues | None = None) -> None:
        self._queues = tuple(queues)
        self._paused = paused
        self._seen: frozenset[str] = frozenset()
        self._active = self._queues

    def active(self) -> tuple[QueueSpec, ...]:
        """The queues to fetch from now, in configured order (empty when all are paused)."""
        if self._paused is None:
            return self._queues
        names = self._paused.names
        if names is not self._seen:
            self._active = tuple(q for q in self._queues if q.name not in names)
            self._seen = names
        return self._active

    @overload
    def __getitem__(self, index: int) -> QueueSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[QueueSpec]: ...
    def __getitem__(self, index: int | slice) -> QueueSpec | Sequence[QueueSpec]:
        return self._queues[index]

    def __len__(self) -> int:
        return len(self._queues)

    def __iter__(self) -> Iterator[QueueSpec]:
        return iter(self._queues)


def as_queue_list(queues: Sequence[QueueSpec]) -> QueueList:
    """``queues`` itself when it is a :class:`QueueList`, else a list that never pauses."""
    return queues if isinstance(queues, QueueList) else QueueList(queues)
