"""What the admin commands read when ``shards`` are configured: every shard's queues (each with
its shard), the job sets merged, stats summed (see :mod:`henchman.shards.admin`). With one
server each function returns the plain view of the command's client."""

from __future__ import annotations

from collections.abc import Callable

import click
import redis

from henchman.api import Queue, Stats
from henchman.api.sorted_sets import SortedSet
from henchman.api.stats import StatsSummary
from henchman.cli.common import _settings
from henchman.shards.admin import ShardAdmin, admin_for

_KEY = "henchman.shard_admin"


def shard_admin(ctx: click.Context, client: redis.Redis) -> ShardAdmin | None:
    """The command's view over all shards (closed with the command), or None if unsharded."""
    root = ctx.find_root()
    if _KEY not in root.meta:
        admin = admin_for(_settings(ctx), client)
        root.meta[_KEY] = admin
        if admin is not None:
            root.call_on_close(admin.close)
    found: ShardAdmin | None = root.meta[_KEY]
    return found


def summary(ctx: click.Context, client: redis.Redis) -> StatsSummary:
    admin = shard_admin(ctx, client)
    return admin.summary() if admin is not None else Stats(client).summary()


def all_queues(ctx: click.Context, client: redis.Redis) -> list[Queue]:
    admin = shard_admin(ctx, client)
    return list(admin.queues()) if admin is not None else Queue.all(client)


def queue(ctx: click.Context, client: redis.Redis, name: str) -> Queue:
    admin = shard_admin(ctx, client)
    return admin.queue(name) if admin is not None else Queue(client, name)


def queue_client(ctx: click.Context, client: redis.Redis, name: str) -> redis.Redis:
    """The client of the server queue ``name`` lives on."""
    admin = shard_admin(ctx, client)
    return admin.client(admin.map.shard_of(name)) if admin is not None else client


def open_set(
    ctx: click.Context, client: redis.Redis, opener: Callable[[redis.Redis], SortedSet]
) -> SortedSet:
    """``opener``'s set, across every shard when sharded."""
    from henchman.shards.admin import MergedSet

    admin = shard_admin(ctx, client)
    if admin is None:
        return opener(client)
    return MergedSet([opener(c) for _, c in admin.clients()])
