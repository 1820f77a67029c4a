"""henchman's cluster clients against a real cluster: a hung master's command is never resent,
a client opened before a failover follows the promoted replica, and ``send_all`` (one parallel
round trip over the masters) answers in order and follows redirections."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from henchman.config import Settings
from henchman.redis.cluster_client import ClusterUnavailable, send_all
from henchman.redis.connection import Connector
from tests.conftest import ClusterDB
from tests.support.cluster import ClusterNode, ClusterTopology
from tests.support.worker_process import wait_for


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterTopology]:
    topology = ClusterTopology(
        tmp_path_factory.mktemp("replicated"), masters=3, replicas_per_master=1
    ).start()
    yield topology
    topology.stop()


def owner(topology: ClusterTopology, client: redis.Redis, key: str) -> ClusterNode:
    slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
    for node in topology.master_nodes():
        for first, last, *nodes in node.client().execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last and int(nodes[0][1]) == node.port:
                return node
    raise AssertionError(f"no master serves slot {slot}")


@pytest.mark.parametrize("command", [("INCR",), ("INCRBYFLOAT", 1)])
def test_a_command_that_timed_out_on_a_hung_master_is_not_resent(
    replicated: ClusterTopology, tmp_path: Path, command: tuple[object, ...]
) -> None:
    """INCR takes henchman's direct path to the slot's master, INCRBYFLOAT redis-py's routing:
    neither sends the command again after a timeout (the hung master still runs it)."""
    key = f"counter:{{{command[0]}}}"
    settings = Settings(redis_url=replicated.url(), redis_timeout=0.5, fetch_timeout=0.1)
    client = Connector(settings).sync()
    try:
        client.set(key, 0)
        master = owner(replicated, client, key)
        master.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(redis.TimeoutError):
                client.execute_command(command[0], key, *command[1:])
        finally:
            master.process.send_signal(signal.SIGCONT)
        assert float(client.get(key) or 0) == 1  # run once, when the master woke
    finally:
        client.delete(key)
        client.close()


def test_a_client_opened_before_a_failover_reaches_the_promoted_replica(
    replicated: ClusterTopology,
) -> None:
    client = Connector(Settings(redis_url=replicated.url())).sync()
    try:
        for i in range(100):
            client.set(f"k:{{{i}}}", i)
        victim = owner(replicated, client, "k:{0}")
        assert victim.client().execute_command("WAIT", 1, 5000) == 1
        index = replicated.master_nodes().index(victim)
        replicated.kill_master(index)
        assert [int(client.get(f"k:{{{i}}}") or -1) for i in range(100)] == list(range(100))
        client.set("k:{0}", "after")  # writes go to the promoted replica
        assert client.get("k:{0}") == b"after"
    finally:
        client.close()


def test_send_all_answers_in_order_across_every_master(cluster: ClusterDB) -> None:
    client = Connector(cluster.settings()).sync()
    try:
        keys = [f"q:{{{i}}}" for i in range(30)]
        assert send_all(client, [("RPUSH", key, i) for i, key in enumerate(keys)]) == [1] * 30
        replies = send_all(client, [("LRANGE", key, 0, -1) for key in keys])
        assert replies == [[str(i).encode()] for i in range(30)]
        assert all(node.client().dbsize() > 0 for node in cluster.topology.master_nodes())
    finally:
        client.close()


def test_send_all_redoes_a_command_that_a_master_redirected(cluster: ClusterDB) -> None:
    client = Connector(cluster.settings()).sync()
    try:
        client.set("moved:{a}", "here")
        manager = cast(Any, client).nodes_manager
        slot = cast(Any, client).keyslot("moved:{a}")
        right = manager.slots_cache[slot]
        wrong = next(n for n in manager.nodes_cache.values() if n.name != right[0].name)
        manager.slots_cache[slot] = [wrong]  # a stale slot map, as after a resharding
        try:
            assert send_all(client, [("GET", "moved:{a}"), ("INCR", "other:{b}")]) == [b"here", 1]
        finally:
            manager.slots_cache[slot] = right
    finally:
        client.close()


def test_send_all_returns_other_error_replies_in_place(cluster: ClusterDB) -> None:
    client = Connector(cluster.settings()).sync()
    try:
        client.set("text:{a}", "x")
        first, second = send_all(client, [("INCR", "text:{a}"), ("INCR", "n:{b}")])
        assert isinstance(first, redis.ResponseError)
        assert second == 1
    finally:
        client.close()


@pytest.mark.timeout(90)
def test_a_cluster_that_cannot_serve_is_a_connection_error_for_henchman(tmp_path: Path) -> None:
    """With ``cluster-require-full-coverage yes`` a dead master without a replica makes every
    node answer CLUSTERDOWN; after its retries the client raises a ``redis.ConnectionError``, which
    henchman's outage handling retries, instead of a ``ResponseError`` it would treat as a bug."""
    topology = ClusterTopology(tmp_path, masters=3, require_full_coverage=True).start()
    client = Connector(Settings(redis_url=topology.url(), redis_timeout=1.0)).sync()
    try:
        victim = owner(topology, client, "dead:{x}")
        survivor = next(n for n in topology.master_nodes() if n is not victim)
        key = next(
            f"alive:{{{i}}}"
            for i in range(100)
            if owner(topology, client, f"alive:{{{i}}}") is survivor
        )
        victim.kill()
        wait_for(
            lambda: survivor.client().cluster("INFO")["cluster_state"] == "fail",
            30,
            "the cluster to notice the dead master",
        )
        with pytest.raises(ClusterUnavailable) as info:
            client.get(key)
        assert isinstance(info.value, redis.ConnectionError)
        pipe = client.pipeline(transaction=False)
        pipe.get(key)
        with pytest.raises(redis.ConnectionError):
            pipe.execute()
    finally:
        client.close()
        topology.stop()
