"""Helpers shared by the ``test_core_*`` integration tests: polling, an in-process worker, and
readers for Sidekiq's keys. Nothing here asserts on timing: every wait polls a condition until a
generous deadline and fails with a message naming what it waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import QueueSpec, Settings
from henchman.server.launcher import Launcher

T = TypeVar("T")

#: Generous: a deadline is a failure detector, never a measurement.
DEADLINE = 15.0


def wait_for(predicate: Callable[[], T], *, what: str, timeout: float = DEADLINE) -> T:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what`` at the
    deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


class Recorder:
    """A thread-safe list jobs append to."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()

    def add(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    @property
    def items(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def queues(*names: str, weights: dict[str, int] | None = None) -> tuple[QueueSpec, ...]:
    """Queue specs for ``Settings.queues`` (weight 0 = strict)."""
    weights = weights or {}
    return tuple(QueueSpec(name, weights.get(name, 0)) for name in names)


@contextmanager
def running_worker(app: Henchman, settings: Settings) -> Iterator[Launcher]:
    """An in-process worker (no signal handlers), stopped at the end of the block."""
    launcher = Launcher(app, settings)
    launcher.start()
    try:
        yield launcher
    finally:
        launcher.stop()
        finish(launcher)


def finish(launcher: Launcher) -> None:
    """Wait for everything a stopped launcher may still be doing, so no write of this test lands
    in a database after its teardown flushed it (or in the next test that uses it)."""
    join_housekeeper(launcher)


def join_housekeeper(launcher: Launcher) -> None:
    """Wait for the housekeeping thread (heartbeat, poller, recovery) to exit.

    ``Launcher.stop`` already joins it (``test_stop_leaves_no_heartbeat_behind``); this is a
    belt-and-braces wait for tests that stop a launcher from another thread.
    """
    thread = getattr(launcher, "_housekeeper", None)
    if thread is not None:
        thread.join(DEADLINE)


def push_raw(client: redis.Redis, raw: bytes | str, queue: str = "default") -> None:
    """Put raw bytes in a queue exactly as a (possibly broken) producer would."""
    client.sadd(keys.QUEUES, queue)
    client.lpush(keys.queue(queue), raw)


def zset_jobs(client: redis.Redis, key: str) -> list[tuple[dict[str, Any], float]]:
    """Every member of a job sorted set, decoded, with its score (lowest score first)."""
    return [(orjson.loads(raw), score) for raw, score in client.zrange(key, 0, -1, withscores=True)]


def queue_jobs(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """The decoded jobs of a queue, head (next to run) first."""
    return [orjson.loads(raw) for raw in reversed(client.lrange(keys.queue(queue), 0, -1))]


def settled(client: redis.Redis, launcher: Launcher, *queue_names: str) -> bool:
    """True when the named queues and this worker's working lists for them are all empty."""
    names = queue_names or ("default",)
    return all(
        client.llen(keys.queue(q)) == 0 and client.llen(keys.working(launcher.identity, q)) == 0
        for q in names
    )
