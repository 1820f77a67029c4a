"""Held connections to each cluster master, for the fetch round of cluster mode.

Why: on a machine with few cores the workers' Python, not Redis, is the ceiling, so the cluster
path must cost a worker no more CPU per job than one server's. A one-server fetch round is one
``EVALSHA`` on a connection the fetcher holds (:class:`henchman.redis.lane.Lane`); the cluster
round (:func:`henchman.redis.cluster_client.send_all`) paid, every round, a pool checkout (with
its health check) and release per master and the hash slot of every key. Here the slot of each
key is computed once (a queue's slot never changes) and each master's connection is held between
rounds, so a round costs packing, one write per master and reading the replies.

Guarantees (those of :func:`~henchman.redis.cluster_client.send_all`, which this replaces on the
fetcher's hot path):

* The node of each slot is read from redis-py's slot map every round, so a map refreshed after a
  failover or resharding is followed at once; only the slot numbers are cached.
* A redirection (``MOVED``, ``ASK``, ``TRYAGAIN``, ``CLUSTERDOWN``) means the command did not
  run: it is redone through redis-py's routing, which refreshes the slot map.
* A connection error or timeout disconnects every held connection and propagates, like a
  pipeline's (some commands may have run; the fetcher's outage handling and reconcile take
  over). The next round checks out fresh connections.
* A held connection unused for :data:`IDLE_RELEASE` seconds goes back to its pool and the round
  checks one out again, which runs redis-py's health check: a connection the server closed while
  the process was idle is replaced instead of failing the round.
* One thread at a time: a thread that finds the lanes busy uses ``send_all``. After a fork the
  parent's connections are never touched.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import redis
from redis import cluster

from henchman.redis.cluster_client import REROUTED, first_key, master_of, send_all

#: Seconds after which a held connection is checked out again (with redis-py's health check).
IDLE_RELEASE = 1.0
#: The most keys whose slot is kept (the fetcher's keys: a queue and its working list each).
MAX_SLOTS = 4096


class ClusterLanes:
    """Runs independent keyed commands on held per-master connections of a cluster client."""

    def __init__(
        self,
        client: Any,
        *,
        idle_release: float = IDLE_RELEASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = cast(cluster.RedisCluster, client)
        self._idle_release = idle_release
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[Any, int] = {}
        #: node name -> (its pool, the held connection, when it was last used)
        self._held: dict[str, tuple[Any, Any, float]] = {}
        self._pid = os.getpid()

    def send_all(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """:func:`~henchman.redis.cluster_client.send_all` on the held connections."""
        if not self._lock.acquire(blocking=False):
            return send_all(self._client, commands)
        try:
            return self._send(commands)
        finally:
            self._lock.release()

    def slot(self, key: Any) -> int:
        """The hash slot of ``key``, computed once."""
        slot = self._slots.get(key)
        if slot is None:
            if len(self._slots) >= MAX_SLOTS:
                self._slots.clear()
            slot = self._slots[key] = self._client.keyslot(key)  # type: ignore[no-untyped-call]
        return slot

    def node(self, key: Any) -> str:
        """The name of the master that serves ``key`` in redis-py's slot map now."""
        return str(master_of(self._client, self.slot(key)).name)

    def held(self) -> int:
        """How many connections the lanes hold now."""
        return len(self._held)

    def _send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
            self._held, self._pid = {}, os.getpid()
        if len(commands) == 1:  # most fetch rounds: one call to one master
            return [self._send_one(commands[0])]
        groups: dict[str, tuple[Any, list[int]]] = {}
        for index, command in enumerate(commands):
            key = first_key(command)
            if key is None:
                raise ValueError(f"send_all needs keyed commands, got {command[0]!r}")
            node = master_of(self._client, self.slot(key))
            groups.setdefault(node.name, (node, []))[1].append(index)
        now = self._clock()
        replies: list[Any] = [None] * len(commands)
        sent: list[tuple[Any, list[int]]] = []
        try:
            for name, (node, indexes) in groups.items():
                connection = self._connection(name, node, now)
                sent.append((connection, indexes))
                connection.send_packed_command(
                    connection.pack_commands([commands[i] for i in indexes]), check_health=False
                )
            for connection, indexes in sent:
                for index in indexes:
                    try:
                        replies[index] = connection.read_response()
                    except redis.ResponseError as exc:
                        replies[index] = exc
        except BaseException:
            self._drop_all()
            raise
        for index, reply in enumerate(replies):
            if isinstance(reply, REROUTED):
                try:
                    replies[index] = self._client.execute_command(*commands[index])  # type: ignore[no-untyped-call]
                except redis.ResponseError as exc:
                    replies[index] = exc
        return replies

    def _send_one(self, command: tuple[Any, ...]) -> Any:
        """:meth:`_send` for one command, without the grouping."""
        key = first_key(command)
        if key is None:
            raise ValueError(f"send_all needs keyed commands, got {command[0]!r}")
        node = master_of(self._client, self.slot(key))
        try:
            connection = self._connection(node.name, node, self._clock())
            connection.send_packed_command(connection.pack_command(*command), check_health=False)
            try:
                reply = connection.read_response()
            except redis.ResponseError as exc:
                reply = exc
        except BaseException:
            self._drop_all()
            raise
        if isinstance(reply, REROUTED):
            try:
                reply = self._client.execute_command(*command)  # type: ignore[no-untyped-call]
            except redis.ResponseError as exc:
                reply = exc
        return reply

    def _connection(self, name: str, node: Any, now: float) -> Any:
        held = self._held.get(name)
        if held is not None:
            pool, connection, used = held
            if now - used < self._idle_release:
                self._held[name] = (pool, connection, now)
                return connection
            del self._held[name]
            pool.release(connection)
        pool = node.redis_connection.connection_pool
        connection = pool.get_connection()  # the pool's health check runs here
        self._held[name] = (pool, connection, now)
        return connection

    def _drop_all(self) -> None:
        held, self._held = self._held, {}
        for pool, connection, _ in held.values():
            connection.disconnect()
            pool.release(connection)

    def close(self) -> None:
        """Give every held connection back to its pool."""
        with self._lock:
            if self._pid == os.getpid():
                for pool, connection, _ in self._held.values():
                    pool.release(connection)
            self._held = {}
