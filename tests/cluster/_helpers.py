"""Helpers for the cluster-layout tests: a bytes cluster client and slot arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot

from tests.conftest import ClusterDB


def cluster_client(cluster: ClusterDB) -> RedisCluster:
    """A cluster client returning bytes, as henchman's own clients do."""
    return RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in cluster.topology.startup_nodes()],
        socket_timeout=5,
        socket_connect_timeout=2,
    )


def slot(key: str) -> int:
    return int(key_slot(key.encode()))


def spread_queues(count: int) -> list[str]:
    """``count`` queue names whose slots fall on different thirds of the slot space (so on
    different masters of a 3-master cluster with even ranges)."""
    found: dict[int, str] = {}
    index = 0
    while len(found) < min(count, 3):
        name = f"q{index}"
        found.setdefault(slot("{" + name + "}") * 3 // 16384, name)
        index += 1
    names = list(found.values())
    index = 0
    while len(names) < count:
        name = f"extra{index}"
        if name not in names:
            names.append(name)
        index += 1
    return names


def crossslot_errors(node: Any) -> int:
    """CROSSSLOT errors a node has replied since it started (``INFO errorstats``)."""
    stats = node.client().info("errorstats")
    return int(stats.get("errorstat_CROSSSLOT", {}).get("count", 0))


@dataclass(frozen=True)
class FinishedJob:
    """A finished job to acknowledge: the fields a fetch round reads of a UnitOfWork."""

    queue: str
    raw: bytes
    finish: Any = None
