"""Rate limiters as the admin API sees them: every limiter a process has used, its
definition and its usage now, read from the keys the limiter scripts write (``henchman:limiters``,
``henchman:limiter:<name>`` and its ``:state``). Usage is computed with the server's clock, as
the limiters decide with it::

    from henchman.api import LimiterSet

    for limiter in LimiterSet(client).all():
        print(limiter.name, limiter.kind, limiter.in_use, "of", limiter.size)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from henchman import keys
from henchman.redis.serial import script_pipeline


@dataclass(frozen=True, slots=True)
class LimiterRecord:
    """One limiter: its definition and how much of it is in use now."""

    name: str
    #: "concurrent", "bucket", "window", "leaky" or "points".
    kind: str
    #: The limit: holders, admissions per interval, bucket size or points.
    size: int
    #: Seconds: the bucket's calendar interval, the sliding window, the drain or refill time.
    interval: float | None
    #: Seconds a concurrent lease lasts without a release.
    lock_timeout: float | None
    #: Holders now (concurrent), admissions in the current interval or window (bucket,
    #: window), or the level (leaky: drops, points: points in use), drained to now.
    in_use: float

    @property
    def utilization(self) -> float:
        """``in_use`` as a share of ``size`` (may exceed 1 for an overdrawn points budget)."""
        return self.in_use / self.size if self.size else 0.0


def usage(kind: str, interval: float | None, size: int, state: Any, now_us: int) -> float:
    """How much of a limiter is in use at ``now_us`` from its raw state (pure)."""
    if kind == "concurrent":
        return float(sum(1 for _, expiry in state if expiry > now_us))
    if kind == "window" and interval:
        return float(sum(1 for _, at in state if at > now_us - interval * 1e6))
    if kind == "bucket" and interval:
        bucket, count = state
        current = math.floor(now_us / (interval * 1e6))
        return float(count) if bucket is not None and int(bucket) == current else 0.0
    if kind in ("leaky", "points") and interval:
        level, since = state
        if level is None or since is None:
            return 0.0
        drained = (now_us - int(since)) * size / (interval * 1e6)
        return max(float(level) - drained, 0.0)
    return 0.0


def _number(fields: Mapping[bytes, bytes], name: str) -> float | None:
    raw = fields.get(name.encode())
    return float(raw) if raw is not None else None


class LimiterSet:
    """Every registered limiter (a process registers a limiter on its first use)."""

    def __init__(self, client: redis.Redis, *, layout: keys.KeyLayout | None = None) -> None:
        self.client = client
        #: The key layout (from the client unless given).
        self.layout = layout if layout is not None else keys.layout_of(client)

    def names(self) -> list[str]:
        """Registered limiter names, sorted."""
        if self.layout.cluster:  # no names set: the definition hashes, found with SCAN
            found: set[str] = set()
            prefix = "henchman:limiter:{"
            for key in self.client.scan_iter(match=prefix + "*", count=1000, _type="hash"):
                name = key.decode()[len(prefix) :]
                if name.endswith("}"):
                    found.add(name[:-1])
            return sorted(found)
        members: set[bytes] = self.client.smembers(keys.LIMITERS)  # type: ignore[assignment]
        return sorted(n.decode() for n in members)

    def __len__(self) -> int:
        if self.layout.cluster:
            return len(self.names())
        return int(self.client.scard(keys.LIMITERS))

    def all(self, names: list[str] | None = None) -> list[LimiterRecord]:
        """Records of ``names`` (default: every limiter), in that order; unknown names skipped."""
        wanted = self.names() if names is None else names
        if not wanted:
            return []
        pipe = self.client.pipeline(transaction=False)
        for name in wanted:
            pipe.hgetall(self.layout.limiter(name))
        definitions = pipe.execute()
        pipe = script_pipeline(self.client)  # serial on a cluster client (TIME is keyless)
        pipe.time()
        for name, fields in zip(wanted, definitions, strict=True):
            kind = fields.get(b"kind", b"").decode()
            state = self.layout.limiter_state(name)
            if kind in ("concurrent", "window"):
                pipe.zrange(state, 0, -1, withscores=True)
            elif kind == "bucket":
                pipe.hmget(state, "b", "n")
            else:
                pipe.hmget(state, "l", "t")
        replies = pipe.execute()
        seconds, micros = replies[0]
        now_us = int(seconds) * 1_000_000 + int(micros)
        records = []
        for name, fields, state in zip(wanted, definitions, replies[1:], strict=True):
            if not fields:
                continue
            kind = fields[b"kind"].decode()
            size = int(_number(fields, "size") or 0)
            interval = _number(fields, "interval")
            in_use = usage(kind, interval, size, state, now_us)
            lease = _number(fields, "lock_timeout")
            records.append(LimiterRecord(name, kind, size, interval, lease, in_use))
        return records

    def find(self, name: str) -> LimiterRecord | None:
        """One limiter's record, or ``None`` if no process registered it."""
        found = self.all([name])
        return found[0] if found else None

    def usage(self, name: str) -> float | None:
        """How much of limiter ``name`` is in use now (see :attr:`LimiterRecord.in_use`)."""
        found = self.find(name)
        return found.in_use if found else None

    def reset(self, name: str) -> None:
        """Forget a limiter's usage (leases, counts, levels); its definition stays."""
        layout = self.layout
        self.client.delete(layout.limiter_state(name), layout.limiter_wake(name))

    def delete(self, name: str) -> None:
        """Remove a limiter's registration and usage (a process using it registers it again)."""
        layout = self.layout
        pipe = self.client.pipeline(transaction=True)
        if not layout.cluster:  # one slot: the names set is not in the limiter's slot
            pipe.srem(keys.LIMITERS, name)
        pipe.delete(layout.limiter(name), layout.limiter_state(name), layout.limiter_wake(name))
        pipe.execute()
