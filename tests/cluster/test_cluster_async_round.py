"""The asyncio fetcher's cluster round: parallel calls, never more jobs than asked for."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.cluster import RedisCluster

from henchman import keys
from henchman.app import Henchman
from henchman.redis.scripts import AsyncScripts
from henchman.server.cluster_fetch import SeenEmpty, afetch_round
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


def test_a_weighted_round_asks_queues_seen_empty_a_moment_ago_last(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    a, b, c = spread_queues(3)
    rc.lpush(L.queue(c), "c0", "c1", "c2")
    now = [100.0]
    empty = SeenEmpty(weighted=True, clock=lambda: now[0])
    working = {name: L.working(IDENTITY, name) for name in (a, b, c)}

    async def rounds() -> list[list[tuple[str, bytes]]]:
        client = Henchman(cluster.settings()).connector.asyncio()
        scripts = AsyncScripts(client)
        sent: list[str] = []
        llen = client.llen

        async def counting_llen(key: str) -> Any:
            sent.append(key)
            return await llen(key)

        client.llen = counting_llen  # type: ignore[method-assign]
        try:
            first = await afetch_round(scripts, L, [a, b, c], working, 1, [], client, empty)
            assert len(sent) == 2  # a was empty: b's and c's lengths
            sent.clear()
            second = await afetch_round(scripts, L, [b, a, c], working, 1, [], client, empty)
            assert sent == []  # c asked first: no lengths
            now[0] += 0.11
            third = await afetch_round(scripts, L, [b, a, c], working, 1, [], client, empty)
            assert len(sent) == 2  # b asked first again (seen empty 110 ms ago on the fake clock)
            return [_pairs(first, [a, b, c]), _pairs(second, [b, a, c]), _pairs(third, [b, a, c])]
        finally:
            await client.aclose()

    assert asyncio.run(rounds()) == [[(c, b"c0")], [(c, b"c1")], [(c, b"c2")]]
