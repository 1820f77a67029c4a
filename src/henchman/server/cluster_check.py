"""Startup check of a worker in cluster mode (one line, exit 2): a queue name with braces cannot
be used, because the braces would change the queue's hash tag. Every feature has a cluster key
design (docs/redis-keys.md), so nothing else is refused here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from henchman.errors import ConfigError
from henchman.keys import check_cluster_queue_name

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings


def refuse_untaggable_queues(app: Henchman, settings: Settings) -> None:
    """Raise :class:`ConfigError` for a queue name the cluster layout cannot tag."""
    if not app.keys.cluster:
        return
    names = [q.name for q in settings.queues]
    names += [q.name for c in settings.capsules for q in c.queues]
    for name in names:
        try:
            check_cluster_queue_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
