"""The no-op job the local benchmark drains (``henchman run -r bench_jobs -q bench``).

Its whole body is the same instrumentation as every peer's job in ``peers/run.py`` (see
``peers/jobs/record.py``): one pipelined round trip that sets ``bench:first`` (NX) and
``bench:last`` to ``time.time()`` and increments ``bench:done``. The harness reads only those keys.
The instrumentation talks to ``$BENCH_REDIS_URL`` with its own redis-py client, so it never
shares a connection pool with henchman.
"""

from __future__ import annotations

import os
import threading
import time

import redis

import henchman

K_FIRST = "bench:first"
K_LAST = "bench:last"
K_DONE = "bench:done"
K_LAT = "bench:lat"

_lock = threading.Lock()
_clients: list[redis.Redis] = []


def _client() -> redis.Redis:
    with _lock:
        if not _clients:
            _clients.append(redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]))
        return _clients[0]


def record(t_enq: float = 0.0) -> None:
    """What every benchmarked job does: note its start time and count itself."""
    now = time.time()
    pipe = _client().pipeline(transaction=False)
    pipe.set(K_FIRST, now, nx=True)
    pipe.set(K_LAST, now)
    pipe.incr(K_DONE)
    if t_enq > 0:
        pipe.rpush(K_LAT, now - t_enq)
    pipe.execute()


@henchman.job(queue="bench")
def noop(t: float) -> None:
    record(t)
