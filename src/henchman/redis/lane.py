"""A fast lane for single commands: one pooled connection kept aside, used without the pool.

Why: a push is one ``LPUSH`` round trip, and most of its CPU is redis-py's per-command path
(pool checkout and release, retry wrapper, instrumentation), not the I/O. Sending the packed
command on a connection the lane already holds costs about a third less CPU per push on the
benchmark machine, which is what lets ``perform_async`` keep up with a bare redis-py ``LPUSH``
loop even though it validates and builds a full payload first.

Guarantees:

* One thread at a time uses the lane; a thread that finds it busy goes through the client as
  before, so concurrent pushers never wait for each other here.
* A connection error (or a forked child finding its parent's connection) sends the command
  through the client instead, with redis-py's own reconnect and retry policy. A timeout is raised
  instead: the command was sent and Redis may still run it (a hung server runs it when it wakes),
  so sending it again could store it twice; the reliable-push buffer redelivers it idempotently.
* The lane's connection belongs to the client's pool: closing the client closes it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, cast

import redis


class Lane:
    """Runs single commands on one connection held aside from ``client``'s pool."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        #: Only a real redis-py client has a pool to take a connection from.
        self._usable = isinstance(client, redis.Redis)
        self._lock = threading.Lock()
        # redis-py's connection API is untyped: Any keeps mypy --strict honest about that.
        self._connection: Any = None
        self._pid = 0

    def execute(self, *args: Any) -> Any:
        """Send one command and return its raw reply (no response callback applies)."""
        if self._usable and self._lock.acquire(blocking=False):
            try:
                connection = self._held()
                try:
                    connection.send_packed_command(
                        connection.pack_command(*args), check_health=False
                    )
                    return connection.read_response()
                except redis.TimeoutError:
                    # The command was sent and may still run: sending it again could store it
                    # twice. The caller decides (the reliable-push buffer redelivers it once).
                    connection.disconnect()
                    raise
                except (redis.ConnectionError, OSError):
                    connection.disconnect()  # the client's path below reconnects and retries
            finally:
                self._lock.release()
        return cast(Any, self._client).execute_command(*args)

    def _held(self) -> Any:
        if self._connection is None or self._pid != os.getpid():
            # After a fork the parent's connection must not be touched (nor closed) here.
            self._connection = self._client.connection_pool.get_connection()
            self._pid = os.getpid()
        return self._connection

    def close(self) -> None:
        """Give the connection back to the pool (the client's close then closes it)."""
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._client.connection_pool.release(self._connection)
            self._connection = None
