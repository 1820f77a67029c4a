"""Which shard a queue lives on: a pure lookup shared by clients, workers and the admin API.

A shard is named by its URL; the default shard (the ``redis_url`` server, or the embedded one)
has the name :data:`DEFAULT`. Names shown to people go through :func:`shard_label`, which masks
passwords.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from henchman.urls import mask_url

#: The shard of every queue without a route: the ``redis_url`` server.
DEFAULT = "default"

T = TypeVar("T")


@dataclass(frozen=True)
class ShardMap:
    """Queue name -> shard URL for the queues that live off the default shard."""

    routes: Mapping[str, str] = field(default_factory=dict)

    def shard_of(self, queue: str) -> str:
        """The shard URL of ``queue``, or :data:`DEFAULT`."""
        return self.routes.get(queue, DEFAULT)

    def urls(self) -> list[str]:
        """The non-default shards, each once, in the order their first queue was configured."""
        return list(dict.fromkeys(self.routes.values()))

    def names(self) -> list[str]:
        """Every shard: :data:`DEFAULT` first, then :meth:`urls`."""
        return [DEFAULT, *self.urls()]

    def split(self, queues: Sequence[T], name_of: Callable[[T], str]) -> dict[str, list[T]]:
        """``queues`` grouped by shard (order kept inside each group; empty groups left out)."""
        groups: dict[str, list[T]] = {}
        for queue in queues:
            groups.setdefault(self.shard_of(name_of(queue)), []).append(queue)
        return groups


def shard_label(shard: str) -> str:
    """How a shard is shown: ``default`` or its URL with the password masked."""
    return shard if shard == DEFAULT else mask_url(shard)
