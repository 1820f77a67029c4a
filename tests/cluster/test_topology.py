"""The test cluster itself: slots spread over the masters, a killed master's replica takes over."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ClusterDB
from tests.support.cluster import SLOTS, ClusterTopology


def test_the_cluster_fixture_spreads_keys_over_three_masters(cluster: ClusterDB) -> None:
    client = cluster.topology.client()
    try:
        for i in range(60):
            client.set(f"queue:{{q{i}}}", i)
        sizes = [node.client().dbsize() for node in cluster.topology.master_nodes()]
    finally:
        client.close()
    assert len(sizes) == 3
    assert all(size > 0 for size in sizes)
    assert sum(sizes) == 60
    assert cluster.url.startswith("redis+cluster://127.0.0.1:")


@pytest.mark.timeout(90)
def test_killing_a_master_promotes_its_replica_and_keeps_its_keys(tmp_path: Path) -> None:
    topology = ClusterTopology(tmp_path, masters=3, replicas_per_master=1).start()
    try:
        client = topology.client()
        for i in range(300):
            client.set(f"k{i}", i)
        master = topology.master_nodes()[0]
        assert master.client().execute_command("WAIT", 1, 5000) == 1  # the replica has it all
        killed, seconds = topology.kill_master(0)
        assert killed is master
        assert not master.alive
        assert len(topology.master_nodes()) == 3
        info = topology.master_nodes()[0].client().cluster("INFO")
        assert int(info["cluster_slots_ok"]) == SLOTS
        client.close()
        client = topology.client()
        assert [int(client.get(f"k{i}")) for i in range(300)] == list(range(300))
        assert seconds < 30
        client.close()
    finally:
        topology.stop()
