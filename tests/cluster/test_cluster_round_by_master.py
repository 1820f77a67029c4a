"""A cluster fetch round sends one call per master, against a real 3-master cluster."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from henchman import keys
from henchman.config import QueueSpec
from henchman.redis.cluster_lanes import ClusterLanes
from henchman.redis.scripts import Scripts, source
from henchman.server.cluster_fetch import ByMaster, fetch_round
from henchman.server.fetch import ReliableFetcher
from henchman.server.outage import OutageLog
from tests.cluster._helpers import FinishedJob
from tests.conftest import ClusterDB

L = keys.CLUSTER
IDENTITY = "host:1:abc"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _by_node(rc: RedisCluster, count: int) -> dict[str, list[str]]:
    """Master name -> ``count`` queue names whose slots that master serves."""
    found: dict[str, list[str]] = {}
    index = 0
    while len(found) < 3 or any(len(names) < count for names in found.values()):
        name = f"q{index}"
        node = rc.nodes_manager.slots_cache[rc.keyslot(L.queue(name))][0].name
        if len(found.setdefault(node, [])) < count:
            found[node].append(name)
        index += 1
    return found


def _evalsha_calls(cluster: ClusterDB) -> dict[int, int]:
    out = {}
    for node in cluster.topology.master_nodes():
        stats = node.client().info("commandstats")
        out[node.port] = int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
    return out


def _reset_stats(cluster: ClusterDB) -> None:
    for node in cluster.topology.master_nodes():
        node.client().config_resetstat()


def _working(rc: RedisCluster, name: str) -> list[bytes]:
    return list(rc.lrange(L.working(IDENTITY, name), 0, -1))


def _fetched(reply: list[Any], order: list[str]) -> list[tuple[str, bytes]]:
    return [(order[reply[i] - 1], reply[i + 1]) for i in range(0, len(reply), 2)]


class _Round:
    """Rounds on held connections with one ByMaster, as a fetcher runs them."""

    def __init__(self, rc: RedisCluster, names: list[str], by_master: ByMaster) -> None:
        self.rc = rc
        self.lanes = ClusterLanes(rc)
        self.scripts = Scripts(rc)
        self.working = {name: L.working(IDENTITY, name) for name in names}
        self.by_master = by_master

    def __call__(
        self, order: list[str], want: int, acks: list[FinishedJob]
    ) -> list[tuple[str, bytes]]:
        reply = fetch_round(
            self.scripts,
            L,
            order,
            self.working,
            want,
            acks,
            self.rc,
            self.lanes.send_all,
            self.by_master,
        )
        return _fetched(reply, order)

    def close(self) -> None:
        self.lanes.close()


def _count_trips(round_: _Round) -> list[list[str]]:
    """From now on, each parallel round trip of ``round_``'s rounds, as its command names."""
    trips: list[list[str]] = []
    send = round_.lanes.send_all

    def counting(commands: list[tuple[Any, ...]]) -> list[Any]:
        trips.append([str(command[0]) for command in commands])
        return send(commands)

    round_.lanes.send_all = counting  # type: ignore[method-assign]
    return trips


def _finished(rc: RedisCluster, name: str, raw: bytes) -> FinishedJob:
    """A job of ``name`` that a worker fetched and finished (in its working list)."""
    rc.lpush(L.working(IDENTITY, name), raw)
    return FinishedJob(name, raw)


def _node_of(rc: RedisCluster) -> Any:
    def node_of(key: Any) -> str:
        return str(rc.nodes_manager.slots_cache[rc.keyslot(key)][0].name)

    return node_of


def _load_scripts(rc: RedisCluster) -> None:
    for name in ("fetch", "fetch_node"):
        rc.script_load(source(name))  # every master


def test_a_round_sends_one_call_to_a_master_for_its_queues_fetch_and_acknowledgements(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    a, b, c = next(iter(_by_node(rc, 3).values()))
    rc.lpush(L.queue(a), "a0", "a1", "a2")
    acks = [_finished(rc, b, b"b-done"), _finished(rc, c, b"c-done"), _finished(rc, a, b"a-done")]
    _load_scripts(rc)
    _reset_stats(cluster)
    round_ = _Round(rc, [a, b, c], ByMaster(_node_of(rc)))
    try:
        got = round_([a, b, c], 2, acks)
    finally:
        round_.close()
    assert got == [(a, b"a0"), (a, b"a1")]
    assert sum(_evalsha_calls(cluster).values()) == 1
    assert _working(rc, b) == []
    assert _working(rc, c) == []
    assert sorted(_working(rc, a)) == [b"a0", b"a1"]
    assert rc.lrange(L.queue(a), 0, -1) == [b"a2"]


def test_acknowledgements_of_another_masters_queues_wait_for_a_round_that_goes_there(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, b), (c, _), _ = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(a), *[f"a{i}" for i in range(4)])
    rc.lpush(L.queue(c), "c0")
    clock = _Clock()
    by_master = ByMaster(_node_of(rc), clock=clock)
    round_ = _Round(rc, [a, b, c], by_master)
    try:
        done = _finished(rc, b, b"b-done")
        far = _finished(rc, c, b"c-done")
        assert round_([a, b, c], 1, [done, far]) == [(a, b"a0")]
        assert by_master.take_sent() == [done]
        assert by_master.pending()
        assert _working(rc, b) == []  # same master as the round's first queue: sent
        assert _working(rc, c) == [b"c-done"]  # held: the round wrote to a's master only
        assert round_([c, a], 1, []) == [(c, b"c0")]  # a round to c's master carries it
        assert by_master.take_sent() == [far]
        assert not by_master.pending()
        assert _working(rc, c) == [b"c0"]
    finally:
        round_.close()


def test_after_a_short_round_the_next_reads_the_lengths_with_its_first_call(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    # Strict order with an empty first queue (critical, default, ...): every round is short.
    (a, _), (c, _), (e, _) = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(c), *[f"c{i}" for i in range(4)])
    rc.lpush(L.queue(e), *[f"e{i}" for i in range(4)])
    _load_scripts(rc)
    round_ = _Round(rc, [a, c, e], ByMaster(_node_of(rc), clock=_Clock()))
    trips = _count_trips(round_)
    try:
        assert round_([a, c, e], 2, []) == [(c, b"c0"), (c, b"c1")]
        assert len(trips) == 3  # a's fetch; the lengths; the asks
        trips.clear()
        assert round_([a, c, e], 3, []) == [(c, b"c2"), (c, b"c3"), (e, b"e0")]
        assert len(trips) == 2  # a's fetch with the lengths; the asks
        assert trips[0].count("LLEN") == 2
        trips.clear()
        rc.lpush(L.queue(a), "a0", "a1")
        assert round_([a, c, e], 2, []) == [(a, b"a0"), (a, b"a1")]
        assert len(trips) == 1  # full from the first queue: the lengths read were not needed
        trips.clear()
        rc.lpush(L.queue(a), "a2")
        assert round_([a, c, e], 1, []) == [(a, b"a2")]
        assert trips == [["EVALSHA"]]  # the last round was not short: no lengths
    finally:
        round_.close()
    assert rc.lrange(L.queue(e), 0, -1) == [b"e3", b"e2", b"e1"]


def test_a_weighted_round_asks_queues_seen_empty_last_for_a_moment(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    """Workers listening on many queues of which few hold jobs: a weighted round whose drawn
    first queue was seen empty a moment ago asks the one with jobs first, in one trip."""
    (a, _), (c, _), (e, _) = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(c), *[f"c{i}" for i in range(7)])
    _load_scripts(rc)
    clock = _Clock()
    round_ = _Round(rc, [a, c, e], ByMaster(_node_of(rc), clock=clock, weighted=True))
    trips = _count_trips(round_)
    try:
        assert round_([a, c, e], 1, []) == [(c, b"c0")]
        assert len(trips) == 3  # a's fetch; the lengths (e is empty too); the ask
        trips.clear()
        clock.now += 0.04
        assert round_([e, a, c], 2, []) == [(c, b"c1"), (c, b"c2")]
        assert trips == [["EVALSHA"]]  # c asked first (it had jobs): one trip, no lengths
        trips.clear()
        assert round_([a, c, e], 1, []) == [(c, b"c3")]
        assert trips == [["EVALSHA"]]
        trips.clear()
        rc.lpush(L.queue(a), "a0")  # a job on a queue asked last: a short round finds it
        assert round_([a, e, c], 4, []) == [(c, b"c4"), (c, b"c5"), (c, b"c6"), (a, b"a0")]
        trips.clear()
        rc.lpush(L.queue(e), "e0")
        clock.now += 0.11  # the test's clock: e seen empty 110 ms ago, asked where drawn again
        assert round_([e, a, c], 1, []) == [(e, b"e0")]
        assert trips == [["EVALSHA", "LLEN", "LLEN"]]  # the last round was short: lengths ahead
    finally:
        round_.close()


def test_held_acknowledgements_go_with_the_next_round_once_they_waited_long_enough(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(a), *[f"a{i}" for i in range(4)])
    clock = _Clock()
    by_master = ByMaster(_node_of(rc), clock=clock, hold=0.05)
    round_ = _Round(rc, [a, c], by_master)
    try:
        far = _finished(rc, c, b"c-done")
        round_([a, c], 1, [far])
        assert by_master.pending()
        clock.now += 0.04
        round_([a, c], 1, [])
        assert by_master.pending()  # 40 ms: still held
        assert _working(rc, c) == [b"c-done"]
        clock.now += 0.02
        round_([a, c], 1, [])
        assert not by_master.pending()  # 60 ms: sent with the round to a's master
        assert by_master.take_sent() == [far]
    finally:
        round_.close()
    assert _working(rc, c) == []


def test_each_master_s_held_acknowledgements_wait_their_own_time(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    """An acknowledgement held for one master does not drag another master's along when it is
    due: a worker nearly always holds some, and one timer for all sent them to every master."""
    (a, _), (c, _), (e, _) = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(a), *[f"a{i}" for i in range(4)])
    clock = _Clock()
    by_master = ByMaster(_node_of(rc), clock=clock, hold=0.05)
    round_ = _Round(rc, [a, c, e], by_master)
    try:
        for_c = _finished(rc, c, b"c-done")
        round_([a, c, e], 1, [for_c])
        clock.now += 0.03
        for_e = _finished(rc, e, b"e-done")
        round_([a, c, e], 1, [for_e])
        assert by_master.take_sent() == []  # both held
        clock.now += 0.03
        round_([a, c, e], 1, [])
        assert by_master.take_sent() == [for_c]  # held 60 ms on the test's clock: goes along
        assert by_master.pending()  # e's, held 30 ms on the test's clock, waits its own time
        assert _working(rc, c) == []
        assert _working(rc, e) == [b"e-done"]
        clock.now += 0.03
        round_([a, c, e], 1, [])
        assert by_master.take_sent() == [for_e]
        assert not by_master.pending()
    finally:
        round_.close()
    assert _working(rc, e) == []


def test_a_short_round_carries_the_held_acknowledgements_to_every_master(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), (e, _) = list(_by_node(rc, 2).values())
    by_master = ByMaster(_node_of(rc), clock=_Clock())
    round_ = _Round(rc, [a, c, e], by_master)
    try:
        acks = [_finished(rc, c, b"c-done"), _finished(rc, e, b"e-done")]
        assert round_([a, c, e], 3, acks) == []  # every queue empty: the top-up goes everywhere
        assert not by_master.pending()
        assert by_master.take_sent() == acks
    finally:
        round_.close()
    assert _working(rc, c) == []
    assert _working(rc, e) == []


def test_a_queue_whose_master_does_not_serve_it_is_fetched_on_its_own_and_nothing_is_lost(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    real = _node_of(rc)
    home = real(L.queue(a))

    def stale(key: Any) -> str:  # a slot map that puts every queue on a's master
        return home

    rc.lpush(L.queue(a), "a0")
    rc.lpush(L.queue(c), "c0", "c1")
    _load_scripts(rc)
    round_ = _Round(rc, [a, c], ByMaster(stale, hold=0))
    try:
        done = _finished(rc, c, b"c-done")
        got = round_([a, c], 3, [done])
    finally:
        round_.close()
    assert got == [(a, b"a0"), (c, b"c0"), (c, b"c1")]
    assert sorted(_working(rc, c)) == [b"c0", b"c1"]
    assert rc.llen(L.queue(c)) == 0


def test_an_acknowledgement_its_master_refuses_in_a_one_master_round_is_sent_on_its_own(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    # Not due: the round writes to the first queue's master only, and the stale map says c is
    # there too, so c's acknowledgement rides in the same fetch_node call, which refuses it.
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    home = _node_of(rc)(L.queue(a))
    rc.lpush(L.queue(a), "a0", "a1")
    _load_scripts(rc)
    round_ = _Round(rc, [a, c], ByMaster(lambda key: home, hold=60.0))
    try:
        done = _finished(rc, c, b"c-done")
        got = round_([a, c], 2, [done])
        assert round_.by_master.take_sent() == [done]
    finally:
        round_.close()
    assert got == [(a, b"a0"), (a, b"a1")]
    assert _working(rc, c) == []
    assert sorted(_working(rc, a)) == [b"a0", b"a1"]


def test_fetch_node_leaves_a_group_of_another_masters_slot_untouched_and_reports_it(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(a), "a0")
    rc.lpush(L.queue(c), "c0")
    _finished(rc, c, b"c-done")
    node = rc.nodes_manager.slots_cache[rc.keyslot(L.queue(a))][0]
    direct = rc.get_redis_connection(node)
    args = [L.queue(a), L.working(IDENTITY, a), 1, 0]
    args += [L.queue(c), L.working(IDENTITY, c), 1, 1, b"c-done"]
    reply = direct.eval(source("fetch_node"), 2, L.queue(a), L.working(IDENTITY, a), *args)
    assert reply == [[2], 1, b"a0"]
    assert rc.lrange(L.queue(c), 0, -1) == [b"c0"]
    assert _working(rc, c) == [b"c-done"]


def test_a_fetcher_keeps_held_acknowledgements_pending_and_in_its_ledger_until_sent(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    fetcher = ReliableFetcher(
        rc,
        Scripts(rc),
        IDENTITY,
        [QueueSpec(a), QueueSpec(c)],  # strict order: every round starts with a
        block_timeout=0.1,
        outages=OutageLog(),
        layout=L,
    )
    rc.lpush(L.queue(c), "c0")
    first = fetcher.take()
    assert first is not None
    assert first.queue == c
    fetcher.acknowledge_later(first)
    rc.lpush(L.queue(a), "a0", "a1")
    second = fetcher.take()
    assert second is not None
    assert second.queue == a
    assert fetcher.has_pending_acks()  # held: the round went to a's master only
    assert _working(rc, c) == [b"c0"]
    assert fetcher.reconcile() == 0  # still in the ledger: never given back
    assert fetcher.flush_acks() == 1
    assert _working(rc, c) == []
    assert not fetcher.has_pending_acks()


def test_held_acknowledgements_are_held_again_when_the_round_that_took_them_fails(
    cluster: ClusterDB, rc: RedisCluster
) -> None:
    (a, _), (c, _), _ = list(_by_node(rc, 2).values())
    rc.lpush(L.queue(a), "a0", "a1")
    by_master = ByMaster(_node_of(rc), clock=_Clock())
    round_ = _Round(rc, [a, c], by_master)
    try:
        far = _finished(rc, c, b"c-done")
        round_([a, c], 1, [far])
        assert by_master.pending()

        def lost(commands: list[tuple[Any, ...]]) -> list[Any]:
            raise redis.ConnectionError("connection lost")

        with pytest.raises(redis.ConnectionError):
            fetch_round(round_.scripts, L, [c, a], round_.working, 1, [], rc, lost, by_master)
        assert by_master.pending()  # not lost: the next round to c's master sends it
        assert round_([c, a], 1, []) == [(a, b"a1")]  # c is empty: the top-up from a carries it
        assert by_master.take_sent() == [far]
    finally:
        round_.close()
    assert _working(rc, c) == []
