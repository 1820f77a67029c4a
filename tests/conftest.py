"""Shared fixtures: a real embedded Valkey server per test process, a fresh database per test.

Each pytest-xdist worker starts its own server (under a temporary HENCHMAN_HOME), and each test
gets one of its 16 databases. Like rq, a test refuses to run on a database that is not empty, so
no test can ever flush data it did not create; the database is flushed at teardown.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import EmbeddedServer
from tests.support.cluster import ClusterTopology

DATABASES = 16

# The Django suite configures Django for its whole process, so it runs in a process of its own,
# started by tests/integrations/test_django.py with HENCHMAN_DJANGO_SUITE=1.
collect_ignore = [] if os.environ.get("HENCHMAN_DJANGO_SUITE") else ["django_suite"]


@dataclass(frozen=True)
class RedisDB:
    """One empty database on the session's server."""

    server: EmbeddedServer
    db: int
    client: redis.Redis

    @property
    def url(self) -> str:
        return f"{self.server.url}?db={self.db}"

    def settings(self, **overrides: object) -> Settings:
        """Settings pointing at this database, with fast background loops for tests."""
        base = Settings(
            redis_url=self.url,
            home=self.server.home,
            heartbeat_interval=0.5,
            poll_interval_average=0.2,
            orphan_check_interval=1.0,
            fetch_timeout=0.5,
            timeout=5.0,
        )
        return base.replace(**overrides)


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path_factory.mktemp("henchman-home"))
    server.ensure_running()
    yield server
    server.stop()


_db_numbers = itertools.cycle(range(DATABASES))


@pytest.fixture
def redis_db(embedded_server: EmbeddedServer) -> Iterator[RedisDB]:
    """An empty database for one test; refuses to run on a non-empty one."""
    db = next(_db_numbers)
    client = redis.Redis(unix_socket_path=str(embedded_server.socket_path), db=db)
    if client.dbsize():
        client.close()
        pytest.fail(f"database {db} is not empty: refusing to run a test on it")
    try:
        yield RedisDB(embedded_server, db, client)
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def app(redis_db: RedisDB) -> Iterator[Henchman]:
    """A fresh application bound to the test's database."""
    application = Henchman(redis_db.settings())
    yield application
    application.close()


@pytest.fixture
def tmp_home(tmp_path: Path) -> Path:
    return tmp_path / ".henchman"


@dataclass(frozen=True)
class ClusterDB:
    """The session's empty 3-master Redis Cluster, for one test."""

    topology: ClusterTopology
    home: Path

    @property
    def url(self) -> str:
        return self.topology.url()

    def settings(self, **overrides: object) -> Settings:
        """Settings pointing at the cluster (the ``redis+cluster://`` URL turns cluster mode on),
        with fast background loops for tests."""
        base = Settings(
            redis_url=self.url,
            home=self.home,
            heartbeat_interval=0.5,
            poll_interval_average=0.2,
            orphan_check_interval=1.0,
            fetch_timeout=0.5,
            timeout=5.0,
        )
        return base.replace(**overrides)


@pytest.fixture(scope="session")
def cluster_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterTopology]:
    """One 3-master cluster (no replicas) per test process, started on first use."""
    topology = ClusterTopology(tmp_path_factory.mktemp("cluster"), masters=3).start()
    yield topology
    topology.stop()


@pytest.fixture
def cluster(cluster_topology: ClusterTopology, tmp_path: Path) -> Iterator[ClusterDB]:
    """The session's cluster, empty; refuses to run on a non-empty one and flushes it after."""
    if any(node.client().dbsize() for node in cluster_topology.master_nodes()):
        pytest.fail("the test cluster is not empty: refusing to run a test on it")
    try:
        yield ClusterDB(cluster_topology, tmp_path / ".henchman")
    finally:
        cluster_topology.flush()
