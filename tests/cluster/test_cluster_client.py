"""henchman's cluster clients against a real cluster: a hung master's command is never resent,
and a client opened before a failover follows the promoted replica."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from henchman.config import Settings
from henchman.redis.connection import Connector
from tests.support.cluster import ClusterNode, ClusterTopology


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
