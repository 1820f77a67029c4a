"""The asyncio fetcher's cluster round: parallel calls, never more jobs than asked for."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.cluster import RedisCluster

from henchman import keys
from henchman.app import Henchman
from henchman.redis.scripts import AsyncScripts
from henchman.server.cluster_fetch import afetch_round
from tests.cluster._helpers import FinishedJob, spread_queues
from tests.conftest import ClusterDB

L = keys.CLUSTER
IDENTITY = "host:1:abc"


def _round(cluster: ClusterDB, order: list[str], want: int, acks: list[FinishedJob]) -> list[Any]:
    async def run() -> list[Any]:
        client = Henchman(cluster.settings()).connector.asyncio()
        try:
            working = {name: L.working(IDENTITY, name) for name in order}
            return await afetch_round(AsyncScripts(client), L, order, working, want, acks, client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _pairs(reply: list[Any], order: list[str]) -> list[tuple[str, bytes]]:
    return [(order[int(reply[i]) - 1], reply[i + 1]) for i in range(0, len(reply), 2)]


def test_a_short_first_queue_is_topped_up_from_the_next_queues_in_order(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    a, b, c = spread_queues(3)  # three masters
    rc.lpush(L.queue(a), "a0")
    rc.lpush(L.queue(b), "b0", "b1")
    rc.lpush(L.queue(c), "c0", "c1", "c2")
    reply = _round(cluster, [a, b, c], 4, [])
    assert _pairs(reply, [a, b, c]) == [(a, b"a0"), (b, b"b0"), (b, b"b1"), (c, b"c0")]
    assert rc.lrange(L.queue(c), 0, -1) == [b"c2", b"c1"]  # never more than the free slots
    assert sorted(rc.lrange(L.working(IDENTITY, c), 0, -1)) == [b"c0"]


def test_a_full_first_queue_leaves_the_others_alone_and_acknowledges_every_queue(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    a, b, c = spread_queues(3)
    rc.lpush(L.queue(a), "a0", "a1")
    rc.lpush(L.queue(b), "b0")
    for name in (a, b, c):
        rc.lpush(L.working(IDENTITY, name), f"{name}-done")
    acks = [FinishedJob(name, f"{name}-done".encode()) for name in (a, b, c)]
    reply = _round(cluster, [a, b, c], 2, acks)
    assert _pairs(reply, [a, b, c]) == [(a, b"a0"), (a, b"a1")]
    assert rc.llen(L.queue(b)) == 1
    assert sorted(rc.lrange(L.working(IDENTITY, a), 0, -1)) == [b"a0", b"a1"]
    assert rc.llen(L.working(IDENTITY, b)) == 0
    assert rc.llen(L.working(IDENTITY, c)) == 0


def test_empty_queues_give_an_empty_round(cluster: ClusterDB, rc: RedisCluster) -> None:
    a, b, c = spread_queues(3)
    assert _round(cluster, [a, b, c], 3, []) == []
