"""Jobs for ``bench/placement.py`` (``henchman run -r placement_jobs -q placement``).

Each job notes when it started and ended (``bench:spans``) and counts itself (``bench:done``) in
one pipelined round trip at its end, on its own connection to ``$BENCH_REDIS_URL``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
import zlib

import redis

import henchman

MB = 1 << 20
_lock = threading.Lock()
_clients: list[redis.Redis] = []
_data: dict[str, bytes] = {}


def _client() -> redis.Redis:
    with _lock:
        if not _clients:
            _clients.append(redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]))
        return _clients[0]


def _buffer(name: str, size: int) -> bytes:
    """Test data made once per process: random bytes, or text-like bytes that compress."""
    with _lock:
        if name not in _data:
            if name == "random":
                _data[name] = os.urandom(size)
            else:
                words = [os.urandom(6).hex().encode() for _ in range(4096)]
                _data[name] = b" ".join(words[i % 4096] for i in range(size // 13))[:size]
        return _data[name]


def _done(started: float) -> None:
    pipe = _client().pipeline(transaction=False)
    pipe.rpush("bench:spans", f"{started} {time.time()}")
    pipe.incr("bench:done")
    pipe.execute()


@henchman.job(queue="placement")
def noop() -> None:
    _done(time.time())


@henchman.job(queue="placement")
def python_2ms() -> None:
    started = time.time()
    end = time.thread_time() + 0.002
    while time.thread_time() < end:
        pass
    _done(started)


@henchman.job(queue="placement")
def sleep_10ms() -> None:
    started = time.time()
    time.sleep(0.01)
    _done(started)


@henchman.job(queue="placement")
def sha256(times: int) -> None:
    started = time.time()
    data = _buffer("random", 4 * MB)
    for _ in range(times):
        hashlib.sha256(data).digest()
    _done(started)


@henchman.job(queue="placement")
def compress() -> None:
    started = time.time()
    zlib.compress(_buffer("text", 4 * MB), 6)
    _done(started)


@henchman.job(queue="placement")
def child_sha256sum(path: str) -> None:
    started = time.time()
    subprocess.run(["sha256sum", path], check=True, stdout=subprocess.DEVNULL)
    _done(started)
