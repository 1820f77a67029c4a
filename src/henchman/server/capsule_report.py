"""How a process describes its capsules: the startup line of each, and the heartbeat's fields in
Sidekiq 7's shape (so Sidekiq's Busy page reads a henchman process with several capsules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from henchman.config import QueueSpec

if TYPE_CHECKING:
    from henchman.server.capsule import Capsule


def queue_text(queues: Sequence[QueueSpec]) -> str:
    """``critical,3, default`` as the startup log writes a queue list."""
    return ", ".join(f"{q.name}{',' + str(q.weight) if q.weight else ''}" for q in queues)


def describe(capsule: Capsule) -> str:
    """The startup line of one capsule."""
    return (
        f"capsule {capsule.name}: concurrency {capsule.concurrency} threads, "
        f"{capsule.configured_async} async; queues: {queue_text(capsule.queues)}"
    )


def capsule_info(capsules: Sequence[Capsule]) -> dict[str, Any]:
    """The heartbeat ``info`` fields that describe capsules, as Sidekiq 7 writes them:
    ``concurrency`` (total threads), ``queues`` (each once, in capsule order), ``weights`` (one
    ``{queue: weight}`` per capsule), plus henchman's ``capsules`` detail keyed by name."""
    queues = list(dict.fromkeys(q.name for c in capsules for q in c.queues))
    return {
        "concurrency": sum(c.concurrency for c in capsules),
        "queues": queues,
        "weights": [{q.name: q.weight for q in c.queues} for c in capsules],
        "capsules": {
            c.name: {
                "queues": [q.name for q in c.queues],
                "weights": {q.name: q.weight for q in c.queues},
                "concurrency": c.concurrency,
                "async_concurrency": c.configured_async,
            }
            for c in capsules
        },
    }
