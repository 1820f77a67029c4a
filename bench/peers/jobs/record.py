"""What every benchmarked job does, in every Python system: one pipelined round trip.

The job notes its start time (``bench:first`` once, ``bench:last`` always), counts itself
(``bench:done``) and, when it carries its enqueue time, the delay since then (``bench:lat``).
The harness reads only these keys, never a system's own data, so every system is measured the
same way. The Ruby job (``sidekiq/noop_job.rb``) does the same commands.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6390/0")
FIRST, LAST, DONE, LATENCY = "bench:first", "bench:last", "bench:done", "bench:lat"
#: Commands per job that are instrumentation (subtracted from the commands-per-job figure).
COMMANDS_PER_JOB = 3

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _sync_client() -> Any:
    client = _clients.get("sync")
    if client is None:
        import redis

        with _lock:  # redis-py's pool reconnects after a fork, so forking workers are fine
            client = _clients.setdefault("sync", redis.Redis.from_url(URL))
    return client


def _commands(pipe: Any, now: float, enqueued_at: float) -> None:
    pipe.set(FIRST, now, nx=True)
    pipe.set(LAST, now)
    pipe.incr(DONE)
    if enqueued_at > 0:
        pipe.rpush(LATENCY, now - enqueued_at)


def record(enqueued_at: float = 0.0) -> None:
    """The no-op job body for threaded and forking systems."""
    now = time.time()
    pipe = _sync_client().pipeline(transaction=False)
    _commands(pipe, now, enqueued_at)
    pipe.execute()


async def arecord(enqueued_at: float = 0.0) -> None:
    """The no-op job body for asyncio systems (one client per event loop)."""
    now = time.time()
    loop = asyncio.get_running_loop()
    client = _clients.get(f"async-{id(loop)}")
    if client is None:
        import redis.asyncio

        client = _clients[f"async-{id(loop)}"] = redis.asyncio.Redis.from_url(URL)
    pipe = client.pipeline(transaction=False)
    _commands(pipe, now, enqueued_at)
    await pipe.execute()


def address() -> tuple[str, int, int]:
    """(host, port, db) of the benchmark server, for libraries that take no URL."""
    parts = urlsplit(URL)
    return parts.hostname or "127.0.0.1", parts.port or 6379, int(parts.path.strip("/") or 0)
