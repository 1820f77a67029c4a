"""ClusterLanes: the fetch round's held connection to each master of a real cluster."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis

from henchman.redis.cluster_lanes import IDLE_RELEASE, ClusterLanes
from henchman.redis.connection import Connector
from tests.conftest import ClusterDB


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _spread(client: Any) -> list[str]:
    """Keys that fall on every master (one key per master is enough for the round)."""
    keys: dict[str, str] = {}
    for i in range(200):
        key = f"lane:{{{i}}}"
        node = client.nodes_manager.slots_cache[client.keyslot(key)][0]
        keys.setdefault(node.name, key)
    return list(keys.values())


def _connection_ids(cluster: ClusterDB) -> set[int]:
    return {
        int(entry["id"])
        for node in cluster.topology.master_nodes()
        for entry in node.client().client_list()
    }


def test_lanes_answer_in_order_and_keep_one_connection_per_master_between_rounds(
    cluster: ClusterDB,
) -> None:
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client, clock=_Clock())
    try:
        keys = [f"q:{{{i}}}" for i in range(30)]
        assert lanes.send_all([("RPUSH", key, i) for i, key in enumerate(keys)]) == [1] * 30
        assert lanes.held() == 3
        before = _connection_ids(cluster)
        replies = lanes.send_all([("LRANGE", key, 0, -1) for key in keys])
        assert replies == [[str(i).encode()] for i in range(30)]
        assert _connection_ids(cluster) == before  # the same connections, no new ones
        assert lanes.held() == 3
    finally:
        lanes.close()
        client.close()


def test_lanes_redo_a_command_that_a_master_redirected(cluster: ClusterDB) -> None:
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client)
    try:
        client.set("moved:{a}", "here")
        manager = cast(Any, client).nodes_manager
        slot = lanes.slot("moved:{a}")
        right = manager.slots_cache[slot]
        wrong = next(n for n in manager.nodes_cache.values() if n.name != right[0].name)
        manager.slots_cache[slot] = [wrong]  # a stale slot map, as after a resharding
        try:
            assert lanes.send_all([("GET", "moved:{a}"), ("INCR", "other:{b}")]) == [b"here", 1]
        finally:
            manager.slots_cache[slot] = right
    finally:
        lanes.close()
        client.close()


def test_a_held_connection_the_server_closed_while_idle_is_replaced(cluster: ClusterDB) -> None:
    clock = _Clock()
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client, clock=clock)
    try:
        keys = _spread(client)
        assert lanes.send_all([("INCR", key) for key in keys]) == [1] * len(keys)
        for node in cluster.topology.master_nodes():
            node.client().client_kill_filter(_type="normal", skipme=True)
        clock.now += IDLE_RELEASE + 0.1
        assert lanes.send_all([("INCR", key) for key in keys]) == [2] * len(keys)
    finally:
        lanes.close()
        client.close()


def test_a_connection_lost_mid_round_is_raised_and_every_held_connection_dropped(
    cluster: ClusterDB,
) -> None:
    """Some commands may have run, so the round is not resent; the next one reconnects."""
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client, clock=_Clock())
    try:
        keys = _spread(client)
        lanes.send_all([("INCR", key) for key in keys])
        for node in cluster.topology.master_nodes():
            node.client().client_kill_filter(_type="normal", skipme=True)
        with pytest.raises(redis.ConnectionError):
            lanes.send_all([("INCR", key) for key in keys])
        assert lanes.held() == 0
        replies = lanes.send_all([("GET", key) for key in keys])
        assert all(int(reply) in (1, 2) for reply in replies)
    finally:
        lanes.close()
        client.close()


def test_lanes_refuse_a_keyless_command(cluster: ClusterDB) -> None:
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client)
    try:
        with pytest.raises(ValueError, match="keyed commands"):
            lanes.send_all([("PING",)])
    finally:
        lanes.close()
        client.close()


def test_lanes_redo_a_lone_command_that_a_master_redirected(cluster: ClusterDB) -> None:
    """A round of one command (most fetch rounds) takes a shorter path: redirections too."""
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client)
    try:
        client.set("moved:{a}", "here")
        manager = cast(Any, client).nodes_manager
        slot = lanes.slot("moved:{a}")
        right = manager.slots_cache[slot]
        wrong = next(n for n in manager.nodes_cache.values() if n.name != right[0].name)
        manager.slots_cache[slot] = [wrong]
        try:
            assert lanes.send_all([("GET", "moved:{a}")]) == [b"here"]
        finally:
            manager.slots_cache[slot] = right
    finally:
        lanes.close()
        client.close()


def test_a_connection_lost_under_a_lone_command_is_raised_and_the_next_reconnects(
    cluster: ClusterDB,
) -> None:
    client = Connector(cluster.settings()).sync()
    lanes = ClusterLanes(client, clock=_Clock())
    try:
        lanes.send_all([("INCR", "lone:{a}")])
        for node in cluster.topology.master_nodes():
            node.client().client_kill_filter(_type="normal", skipme=True)
        with pytest.raises(redis.ConnectionError):
            lanes.send_all([("INCR", "lone:{a}")])
        assert lanes.held() == 0
        assert lanes.send_all([("GET", "lone:{a}")]) == [b"1"]
    finally:
        lanes.close()
        client.close()
