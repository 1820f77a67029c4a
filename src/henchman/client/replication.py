"""Opt-in ``WAIT`` after pushes: narrow what an asynchronous-replication failover can lose.

Redis replicates asynchronously: a push the master acknowledged may not have reached a replica
when the master dies, and a failover promotes the replica without it. With
``push_wait_replicas = N`` every push is sent in one pipeline followed by ``WAIT N timeout`` on
the same connection, so the push returns only once N replicas hold it (or the timeout passed).

A ``WAIT`` that times out does not undo the push (the master keeps it; it is simply not yet known
to be replicated): the client logs one warning naming the jids and returns normally, because
raising would invite a retry that pushes the job twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from henchman.client.plan import PushPlan
from henchman.config import Settings

__all__ = ["ReplicaWait", "replica_wait"]

_log = logging.getLogger("henchman.client")


@dataclass(frozen=True, slots=True)
class ReplicaWait:
    """How many replicas must acknowledge a push, and for how long to wait for them."""

    replicas: int
    timeout: float

    def add_to(self, pipe: Any) -> None:
        """Append the ``WAIT`` to a pipeline that already holds the push's writes."""
        pipe.execute_command("WAIT", self.replicas, max(1, round(self.timeout * 1000)))

    def check(self, acknowledged: Any, plans: Sequence[PushPlan]) -> bool:
        """Whether enough replicas acknowledged; logs one warning when not."""
        if int(acknowledged) >= self.replicas:
            return True
        jids = ", ".join(p.jid for p in plans[:5]) + (" ..." if len(plans) > 5 else "")
        _log.warning(
            "push of %d job(s) (%s) reached %d of %d replica(s) within %.1f s; "
            "it is stored on the master but a failover now could lose it",
            len(plans),
            jids,
            int(acknowledged),
            self.replicas,
            self.timeout,
        )
        return False


def replica_wait(settings: Settings) -> ReplicaWait | None:
    """The wait ``settings`` ask for, or ``None`` (the default: pushes do not wait)."""
    if settings.push_wait_replicas <= 0:
        return None
    return ReplicaWait(settings.push_wait_replicas, settings.push_wait_timeout)
