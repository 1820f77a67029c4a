"""A cluster fetch round whose first queue is short, against a real 3-master cluster."""

from __future__ import annotations

from redis.cluster import RedisCluster

from henchman import keys
from henchman.redis.cluster_lanes import ClusterLanes
from henchman.redis.scripts import Scripts
from henchman.server.cluster_fetch import allot, arrange, fetch_round
from tests.conftest import ClusterDB

L = keys.CLUSTER
IDENTITY = "host:1:abc"


def _round(rc: RedisCluster, order: list[str], want: int) -> list[tuple[str, bytes]]:
    """One round (no acknowledgements) on the fetcher's held connections: (queue, payload)."""
    lanes = ClusterLanes(rc)
    try:
        working = {name: L.working(IDENTITY, name) for name in order}
        reply = fetch_round(Scripts(rc), L, order, working, want, [], rc, lanes.send_all)
    finally:
        lanes.close()
    return [(order[reply[i] - 1], reply[i + 1]) for i in range(0, len(reply), 2)]


def _calls(cluster: ClusterDB, command: str) -> int:
    total = 0
    for node in cluster.topology.master_nodes():
        stats = node.client().info("commandstats")
        total += int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
    return total


def test_allot_gives_each_queue_what_it_holds_in_order_until_the_need_is_met() -> None:
    assert allot(6, [0, 2, 5, 9]) == [0, 2, 4, 0]
    assert allot(3, [0, 0]) == [0, 0]
    assert allot(2, [7, 7]) == [2, 0]


def test_arrange_asks_queues_seen_empty_lately_last_and_says_where_each_came_from() -> None:
    empty = {"a": 10.0, "c": 9.0, "d": 5.0}  # d was seen empty before ``since``: stale
    assert arrange(["a", "b", "c", "d"], empty, since=8.0) == (["b", "d", "a", "c"], [2, 4, 1, 3])
    assert arrange(["b", "d", "a"], empty, since=8.0) == (["b", "d", "a"], None)  # at the end
    assert arrange(["a", "c"], empty, since=8.0) == (["a", "c"], None)  # all empty: as drawn
    assert arrange(["a", "b"], {}, since=8.0) == (["a", "b"], None)


def test_a_short_first_queue_is_topped_up_from_the_next_queues_in_order_up_to_the_free_slots(
    rc: RedisCluster,
) -> None:
    order = ["a", "b", "c", "d"]
    for name, count in zip(order, [1, 0, 2, 5], strict=True):
        for i in range(count):
            rc.lpush(L.queue(name), f"{name}{i}")
    got = _round(rc, order, want=6)
    assert got == [("a", b"a0"), ("c", b"c0"), ("c", b"c1"), ("d", b"d0"), ("d", b"d1"),
                   ("d", b"d2")]  # fmt: skip
    assert rc.llen(L.queue("d")) == 2
    for name, count in [("a", 1), ("c", 2), ("d", 3)]:
        assert rc.llen(L.working(IDENTITY, name)) == count


def test_a_short_round_takes_two_more_round_trips_whatever_the_number_of_queues(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    order = [f"q{i}" for i in range(12)]
    rc.lpush(L.queue(order[-1]), "last")
    _round(rc, order, want=1)  # loads the script on every master
    rc.lpush(L.queue(order[-1]), "again")
    for node in cluster.topology.master_nodes():
        node.client().config_resetstat()
    assert _round(rc, order, want=5) == [(order[-1], b"again")]
    assert _calls(cluster, "evalsha") == 2  # the first queue's fetch and the last queue's
    assert _calls(cluster, "llen") == 11
