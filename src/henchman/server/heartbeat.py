"""Heartbeat and process registry in Sidekiq's layout.

Every beat, in one MULTI: ``SADD processes``, the ``<identity>`` hash (``info`` JSON, busy, beat,
quiet, rss, rtt_us, concurrency, and henchman's own ``placement``: where its threads run) with a
60 s TTL, the running-work hashes (``<identity>:work`` for
Sidekiq ≥ 6.5 and ``<identity>:workers`` for 6.4), the stat counters flushed from memory, and
``RPOP <identity>-signals`` for one remote signal. ``info`` is always well-formed JSON: Sidekiq's
Busy page breaks on anything else.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis

from henchman import keys
from henchman.server.clock_skew import SkewWatch, skew_seconds
from henchman.server.stats import Counters

#: Daily stat keys live five years, like Sidekiq's.
STATS_TTL = 5 * 365 * 24 * 3600


def day_of(epoch: float) -> str:
    """``YYYY-MM-DD`` of ``epoch`` in UTC (the daily stat key suffix)."""
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d")


def rss_kb() -> int:
    """Resident set size of this process in KB (Sidekiq's ``rss`` unit); 0 if unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def new_identity(nonce: str) -> str:
    """``hostname:pid:nonce``, as Sidekiq builds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{nonce}"


def info(
    identity: str,
    *,
    started_at: float,
    tag: str | None,
    concurrency: int,
    queues: list[str],
    weights: list[dict[str, int]],
    labels: list[str],
    version: str,
    capsules: dict[str, dict[str, Any]] | None = None,
) -> bytes:
    """The ``info`` field: what Sidekiq's API and Web UI read about a process.

    With several capsules the fields keep Sidekiq 7's shape: ``concurrency`` is the total,
    ``queues`` every queue once, ``weights`` one ``{queue: weight}`` mapping per capsule.
    ``capsules`` (henchman's addition, ignored by Sidekiq) details each capsule by name.
    """
    hostname, pid, _ = identity.rsplit(":", 2)
    extra = {} if capsules is None else {"capsules": capsules}
    return orjson.dumps(
        {
            "hostname": hostname,
            "started_at": started_at,
            "pid": int(pid),
            "tag": tag or "",
            "concurrency": concurrency,
            "queues": queues,
            "weights": weights,
            "labels": labels,
            "identity": identity,
            "version": version,
            "embedded": False,
            **extra,
        }
    )


def work_entries(work: Mapping[int, tuple[str, dict[str, Any], float]]) -> dict[str, bytes]:
    """The running-work hash: thread/task id (base 36) -> {queue, payload, run_at}."""
    return {
        _base36(key): orjson.dumps({"queue": queue, "payload": payload, "run_at": int(run_at)})
        for key, (queue, payload, run_at) in list(work.items())
    }


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out or "0"


class Heartbeat:
    """Writes this process's state every beat and returns any remote signal."""

    def __init__(
        self,
        client: redis.Redis,
        identity: str,
        info_json: bytes,
        counters: Counters,
        *,
        ttl: float,
        concurrency: int,
        working_lists: Mapping[str, bytes] | None = None,
        clock: Callable[[], float] = time.time,
        skew: SkewWatch | None = None,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._layout = layout
        self._redis = client
        self.identity = identity
        #: Compares the server's TIME with ``clock`` on every beat (logs a skew above 5 s).
        self.skew = skew if skew is not None else SkewWatch()
        self._info = info_json
        self._counters = counters
        self._ttl = int(ttl)
        self._concurrency = concurrency
        # Re-registered every beat: if a partition made another process recover (and
        # unregister) our working lists, a later crash of ours must still be recoverable.
        self._working_lists = dict(working_lists or {})
        self._clock = clock

    def beat(
        self,
        *,
        busy: int,
        quiet: bool,
        work: Mapping[int, tuple[str, dict[str, Any], float]],
        placement: str = "off",
    ) -> str | None:
        """Write one heartbeat; return the remote signal popped (``TSTP``/``TERM``/...) or None."""
        started, before = time.perf_counter(), self._clock()
        server_time = self._redis.time()
        rtt_us = int((time.perf_counter() - started) * 1_000_000)
        self.skew.observe(skew_seconds(server_time, before, self._clock()))
        processed, failed = self._counters.take()
        now = self._clock()
        identity = self.identity
        try:
            pipe = self._redis.pipeline(transaction=True)
            self._add_stats(pipe, processed, failed, now)
            layout = self._layout
            for key in (layout.process_work(identity), layout.process_workers(identity)):
                pipe.delete(key)
                entries = work_entries(work)
                if entries:
                    pipe.hset(key, mapping=entries)  # type: ignore[arg-type]
                    pipe.expire(key, self._ttl)
            if self._working_lists:
                pipe.hset(self._layout.WORKING_LISTS, mapping=self._working_lists)  # type: ignore[arg-type]
            pipe.sadd(self._layout.PROCESSES, identity)
            pipe.hset(
                self._layout.process(identity),
                mapping={
                    "info": self._info,
                    "busy": busy,
                    "beat": repr(now),
                    "quiet": str(quiet).lower(),
                    "rss": rss_kb(),
                    "rtt_us": rtt_us,
                    "concurrency": self._concurrency,
                    "placement": placement,
                },
            )
            pipe.expire(self._layout.process(identity), self._ttl)
            pipe.rpop(self._layout.process_signals(identity))
            replies = pipe.execute()
        except Exception:
            self._counters.give_back(processed, failed)
            raise
        signal = replies[-1]
        return signal.decode() if isinstance(signal, bytes) else signal

    def _add_stats(self, pipe: Any, processed: int, failed: int, now: float) -> None:
        day = day_of(now)
        for total, daily, count in (
            (self._layout.STAT_PROCESSED, self._layout.stat_processed_day(day), processed),
            (self._layout.STAT_FAILED, self._layout.stat_failed_day(day), failed),
        ):
            if count:
                pipe.incrby(total, count)
                pipe.incrby(daily, count)
                pipe.expire(daily, STATS_TTL)

    def clear(self) -> None:
        """Flush the last counts and remove this process from the registry (clean shutdown)."""
        processed, failed = self._counters.take()
        pipe = self._redis.pipeline(transaction=True)
        self._add_stats(pipe, processed, failed, self._clock())
        pipe.srem(self._layout.PROCESSES, self.identity)
        pipe.unlink(
            self._layout.process(self.identity),
            self._layout.process_work(self.identity),
            self._layout.process_workers(self.identity),
        )
        pipe.execute()
