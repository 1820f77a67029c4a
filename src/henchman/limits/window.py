"""Window limiter: at most ``count`` admissions in any sliding interval of ``seconds``.

The limiter keeps the time of each admission still inside the window (``count`` at most), so the
limit holds for every interval of that length, not only aligned ones: an admission at ``t`` frees
its place at ``t + seconds``. A refused caller sleeps until the oldest admission leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter
from henchman.limits.names import INTERVALS, check_count, check_seconds

if TYPE_CHECKING:
    from henchman.app import Henchman


class WindowLimiter(Limiter):
    """``count`` admissions per sliding ``seconds`` (a number, or "second" ... "day")."""

    kind = "window"

    def __init__(
        self,
        name: str,
        count: int,
        seconds: float | str,
        *,
        wait_timeout: float = 5,
        app: Henchman | None = None,
    ) -> None:
        super().__init__(name, wait_timeout=wait_timeout, app=app)
        self.count = check_count("count", count)
        span = INTERVALS.get(seconds, seconds) if isinstance(seconds, str) else seconds
        self.seconds = check_seconds("window", span)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind, "size": self.count, "interval": self.seconds}

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        return "window", [admission.token, self.count, round(self.seconds * 1e6)]
