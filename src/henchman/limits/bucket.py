"""Bucket limiter: at most ``count`` admissions per calendar second, minute, hour or day (UTC).

Counts restart when the interval changes (at :00 of each minute, say), as Sidekiq Enterprise's
bucket limiter does; a burst of ``count`` at the end of one interval may be followed by another at
the start of the next. A refused caller sleeps until the next interval begins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter
from henchman.limits.names import check_count, check_interval

if TYPE_CHECKING:
    from henchman.app import Henchman


class BucketLimiter(Limiter):
    """``count`` admissions per calendar ``interval`` ("second", "minute", "hour", "day")."""

    kind = "bucket"

    def __init__(
        self,
        name: str,
        count: int,
        interval: str,
        *,
        wait_timeout: float = 5,
        app: Henchman | None = None,
    ) -> None:
        super().__init__(name, wait_timeout=wait_timeout, app=app)
        self.count = check_count("count", count)
        self.interval = check_interval(interval)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind, "size": self.count, "interval": self.interval}

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        return "bucket", [self.count, self.interval * 1_000_000]
