"""Leaky bucket limiter: a burst of up to ``size``, then a steady drip of ``size`` per ``seconds``.

The bucket holds ``size`` drops and drains continuously, emptying completely in ``seconds``;
each admission adds one drop and is refused while the bucket is full. So after a quiet spell the
limiter admits ``size`` at once, then one every ``seconds / size``: over any span of ``T``
seconds at most ``size + T * size / seconds`` admissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter
from henchman.limits.names import INTERVALS, check_count, check_seconds

if TYPE_CHECKING:
    from henchman.app import Henchman


def drip_interval(size: int, seconds: float) -> float:
    """Seconds between admissions once the burst is spent."""
    return seconds / size


class LeakyLimiter(Limiter):
    """A bucket of ``size`` drops draining in ``seconds`` (a number, or "second" ... "day")."""

    kind = "leaky"

    def __init__(
        self,
        name: str,
        size: int,
        seconds: float | str,
        *,
        wait_timeout: float = 5,
        app: Henchman | None = None,
    ) -> None:
        super().__init__(name, wait_timeout=wait_timeout, app=app)
        self.size = check_count("size", size)
        span = INTERVALS.get(seconds, seconds) if isinstance(seconds, str) else seconds
        self.seconds = check_seconds("drain time", span)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind, "size": self.size, "interval": self.seconds}

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        return "level", [1, self.size, round(self.seconds * 1e6)]
