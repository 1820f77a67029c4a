"""Fixtures of the cluster-layout tests (the cluster itself is the session's, in tests/conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster

from tests.cluster._helpers import cluster_client
from tests.conftest import ClusterDB


@pytest.fixture
def rc(cluster: ClusterDB) -> Iterator[RedisCluster]:
    """A bytes cluster client on the test's cluster, closed after the test."""
    client = cluster_client(cluster)
    yield client
    client.close()
