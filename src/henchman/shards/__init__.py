"""Shards: named queues routed to separate Redis servers.

A ``shards`` setting maps queue names to Redis URLs (``"*"``: every other queue, which is the
``redis_url`` server, called the *default shard*). Everything that belongs to one job (its queue,
scheduled entry, retries, dead record, working list) lives on its queue's shard; everything the
processes share (heartbeats, leader and periodic marks, limiters, batches, stats, paused queues)
lives on the default shard. See docs/scale.md ("Shards") and docs/decisions.md.

Modules: :mod:`~henchman.shards.config` (parsing and checking the setting, pure),
:mod:`~henchman.shards.routing` (queue -> shard, pure), :mod:`~henchman.shards.client` (the
routing push client), :mod:`~henchman.shards.worker` (a worker's per-shard fetch, poller and
recovery), :mod:`~henchman.shards.admin` (the admin read model merged over shards).
"""
