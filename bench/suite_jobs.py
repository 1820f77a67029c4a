"""Jobs for ``bench/suite.py`` (imported by ``henchman run -r suite_jobs``).

* ``noop``: the peers' instrumentation (one pipelined round trip per job, see bench_jobs.py).
* ``sleepy`` / ``asleepy``: sleep 50 ms; completions are counted in process and written to Redis
  once, when the last one finishes, so the measurement does not add a round trip per job.
* With ``BENCH_BASIC_FETCH=1`` the worker uses :class:`BasicFetcher`: a plain RPOP/BRPOP fetch
  with no working list and no acknowledgement — what a non-reliable job system does — so the
  cost of reliable fetch can be measured in the same run. It exists only in this benchmark.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import redis
from bench_jobs import record

import henchman
from henchman import keys
from henchman.server.fetch import ReliableFetcher, UnitOfWork

N = int(os.environ.get("BENCH_N", "2000"))
_lock = threading.Lock()
_state: dict[str, Any] = {"first": None, "done": 0}


def _finish() -> None:
    now = time.time()
    with _lock:
        _state["first"] = _state["first"] or now
        _state["done"] += 1
        if _state["done"] == N:
            client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
            client.mset({"bench:first": _state["first"], "bench:last": now, "bench:done": N})
            client.close()


@henchman.job(queue="bench")
def noop(t: float) -> None:
    record(t)


@henchman.job(queue="io")
def sleepy() -> None:
    time.sleep(0.05)
    _finish()


@henchman.job(queue="aio")
async def asleepy() -> None:
    await asyncio.sleep(0.05)
    _finish()


class BasicFetcher(ReliableFetcher):
    """RPOP up to the idle slots, else BRPOP: the job leaves Redis when fetched (not reliable)."""

    def _round(self) -> list[UnitOfWork] | None:
        name = self._queues[0].name
        raws = self._redis.rpop(keys.queue(name), max(self._idle, 1))
        if not raws:
            popped = self._redis.brpop([keys.queue(name)], timeout=int(self._block) or 1)
            raws = [popped[1]] if popped else []
        return [UnitOfWork(name, raw, "") for raw in raws] or None  # type: ignore[union-attr]

    def acknowledge_later(self, unit: UnitOfWork) -> None:
        """Nothing to acknowledge: the job already left Redis."""


if os.environ.get("BENCH_BASIC_FETCH"):
    henchman.default_app().fetcher_factory = BasicFetcher
