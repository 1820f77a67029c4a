"""Points limiter: a budget of ``points`` that refills continuously over ``seconds``.

A caller reserves an estimate of the points its block will use (``within_limit(estimate=N)``),
which is admitted while the points in use plus the estimate fit in the budget; inside the block,
``handle.points_used(actual)`` reports the real cost, and the difference is charged (or given
back) when the block ends, so later callers see the true usage. Usage drains at
``points / seconds`` per second. A block that used more than it reserved overdraws the budget
and later callers wait until it has drained. Without ``points_used`` the estimate stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter, new_token
from henchman.limits.names import INTERVALS, check_count, check_seconds

if TYPE_CHECKING:
    from henchman.app import Henchman


class PointsAdmission(Admission):
    """The handle of a points limiter's block: reports the points really used."""

    def __init__(self, limiter: str, token: str, estimate: float) -> None:
        super().__init__(limiter, token)
        self.estimate = estimate
        self.actual: float | None = None

    def points_used(self, actual: float) -> None:
        """Charge ``actual`` points for this block instead of the estimate (at its end)."""
        self.actual = check_seconds("points_used", actual, allow_zero=True)


class PointsLimiter(Limiter):
    """``points`` per ``seconds`` (a number, or "second" ... "day"), reserved by estimate."""

    kind = "points"

    def __init__(
        self,
        name: str,
        points: int,
        seconds: float | str,
        *,
        wait_timeout: float = 5,
        app: Henchman | None = None,
    ) -> None:
        super().__init__(name, wait_timeout=wait_timeout, app=app)
        self.points = check_count("points", points)
        span = INTERVALS.get(seconds, seconds) if isinstance(seconds, str) else seconds
        self.seconds = check_seconds("refill time", span)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind, "size": self.points, "interval": self.seconds}

    def admission(self, **options: Any) -> Admission:
        estimate = options.pop("estimate", 1)
        if options:
            raise TypeError(f"unexpected option(s) for points limiter: {', '.join(options)}")
        amount = check_seconds("estimate", estimate)
        if amount > self.points:
            raise ValueError(
                f"estimate {estimate!r} exceeds points limiter {self.name!r}'s budget of "
                f"{self.points}: it could never be admitted"
            )
        return PointsAdmission(self.name, new_token(), amount)

    def attempt(self, admission: Admission) -> tuple[str, list[Any]]:
        assert isinstance(admission, PointsAdmission)
        return "level", [repr(admission.estimate), self.points, round(self.seconds * 1e6)]

    def after(self, admission: Admission) -> tuple[str, list[Any]] | None:
        assert isinstance(admission, PointsAdmission)
        if admission.actual is None or admission.actual == admission.estimate:
            return None
        delta = admission.actual - admission.estimate
        return "level_adjust", [repr(delta), self.points, round(self.seconds * 1e6)]
