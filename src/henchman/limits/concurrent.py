"""Concurrent limiter: at most ``size`` holders at any moment, cluster-wide.

Each holder takes a lease that expires ``lock_timeout`` seconds after it was granted, so a
process killed while holding a slot loses it then (the block must finish within
``lock_timeout``; a block that outlives its lease no longer counts against the limit). A release
wakes one blocked waiter through the limiter's wake-up list: waiters block on it (BLPOP) instead
of polling. One EVALSHA acquires, one releases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter
from henchman.limits.names import check_count, check_seconds

if TYPE_CHECKING:
    from henchman.app import Henchman


class ConcurrentLimiter(Limiter):
    """At most ``size`` concurrent holders; leases expire after ``lock_timeout`` seconds."""

    kind = "concurrent"
    frees_early = True

    def __init__(
        self,
        name: str,
        size: int,
        *,
        lock_timeout: float = 30,
        wait_timeout: float = 5,
        app: Henchman | None = None,
    ) -> None:
        super().__init__(name, wait_timeout=wait_timeout, app=app)
        self.size = check_count("size", size)
        self.lock_timeout = check_seconds("lock_timeout", lock_timeout)
        self._lease_us = round(self.lock_timeout * 1e6)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind, "size": self.size, "lock_timeout": self.lock_timeout}

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        return "concurrent_acquire", [admission.token, self.size, self._lease_us]

    def after(self, admission: Admission) -> tuple[str, list[Any]] | None:
        return "concurrent_release", [admission.token, self.size, self._lease_us]
