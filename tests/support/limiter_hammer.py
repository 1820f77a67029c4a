"""Hammering one limiter from many threads, in this process or a child process, and recording
every admission with the server's times, so a test can check the limiter's contract.

Run as ``python -m tests.support.limiter_hammer URL KIND THREADS``: once imported the child
prints ``ready``, reads ``START STOP`` (epoch seconds) from its standard input, hammers from
``START`` until ``STOP`` and prints its records as JSON.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from typing import Any

import henchman
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import OverLimit
from henchman.limits import Limiter

#: How long a concurrent holder keeps its slot (seconds).
HOLD = 0.2


def make(kind: str, app: Henchman) -> Limiter:
    """The limiter under test for ``kind`` (the same definition in every process)."""
    name = f"hammer-{kind}"
    if kind == "concurrent":
        return henchman.limiter.concurrent(name, 3, lock_timeout=10, wait_timeout=2, app=app)
    if kind == "bucket":
        return henchman.limiter.bucket(name, 20, "second", wait_timeout=2, app=app)
    if kind == "window":
        return henchman.limiter.window(name, 20, 1, wait_timeout=2, app=app)
    if kind == "leaky":
        return henchman.limiter.leaky(name, 10, 0.5, wait_timeout=2, app=app)
    if kind == "points":
        return henchman.limiter.points(name, 100, 1, wait_timeout=2, app=app)
    raise ValueError(kind)


def hammer(limiter: Limiter, start: float, stop: float, threads: int) -> list[list[float]]:
    """Records ``[admitted_at, released_at, points]`` of every admission between the times."""
    records: list[list[float]] = []
    lock = threading.Lock()

    def worker() -> None:
        rng = random.Random()
        time.sleep(max(start - time.time(), 0))
        while time.time() < stop:
            points = rng.randint(1, 5)
            options: dict[str, Any] = {"estimate": points} if limiter.kind == "points" else {}
            try:
                with limiter.within_limit(**options) as handle:
                    if limiter.kind == "concurrent":
                        time.sleep(HOLD)
                    elif limiter.kind == "points":
                        handle.points_used(points)
            except OverLimit:
                continue
            with lock:
                records.append([handle.admitted_at, handle.released_at, float(points)])

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return records


def main(argv: list[str]) -> None:
    url, kind, threads = argv
    app = Henchman(Settings(redis_url=url))
    try:
        limiter = make(kind, app)
        print("ready", flush=True)
        start, stop = (float(part) for part in sys.stdin.readline().split())
        records = hammer(limiter, start, stop, int(threads))
    finally:
        app.close()
    print(json.dumps(records), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
