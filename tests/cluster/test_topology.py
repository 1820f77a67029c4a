"""The test cluster itself: slots spread over the masters (a killed master's replica taking over is
proven by tests/cluster/test_cluster_client.py and test_failover.py, which use kill_master)."""

from __future__ import annotations

from tests.conftest import ClusterDB


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
