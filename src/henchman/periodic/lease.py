"""The leader lease in Sidekiq Enterprise's layout: ``dear-leader`` holds the leader's identity
with a TTL. Taking, renewing and giving it up are each one atomic step (``leader.lua``), so two
processes can never both take an empty lease, and a process can only renew or delete its own.

Sidekiq's timings are the defaults: the leader renews every 15 s; followers look every 60 s and
also as soon as the lease they last saw runs out, so a follower takes over at most one lease
(30 s) after the leader's last renewal, well within a minute of its death. A leader that stops
steps down at once, so deploys hand over without waiting for the lease to expire.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from henchman import keys
from henchman.redis.scripts import source

__all__ = ["LeaderLease", "LeaseState"]


@dataclass(frozen=True, slots=True)
class LeaseState:
    """The answer of one :meth:`LeaderLease.hold`."""

    leader: bool
    #: True when this call took a lease nobody held (a new term begins).
    newly: bool
    #: Seconds the lease has left (for a follower: when it may be free); None if the key has no
    #: expiry (written by something else), so only the regular check applies.
    remaining: float | None


class LeaderLease:
    """Take, renew or give up the lease for ``identity``."""

    def __init__(
        self,
        client: redis.Redis,
        identity: str,
        lease: float,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._key = layout.LEADER
        self.identity = identity
        self.lease_ms = max(1, int(lease * 1000))
        self._script = client.register_script(source("leader"))

    def hold(self) -> LeaseState:
        """Take the lease if it is free, renew it if ours; report who leads."""
        leader, newly, remaining = self._script(
            keys=[self._key], args=[self.identity, self.lease_ms, "hold"]
        )
        left = int(remaining)
        return LeaseState(bool(leader), bool(newly), left / 1000 if left >= 0 else None)

    def resign(self) -> bool:
        """Give the lease up if we hold it (on stop); True if we did."""
        return bool(self._script(keys=[self._key], args=[self.identity, self.lease_ms, "resign"]))
