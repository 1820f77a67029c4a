"""Cluster-wide rate limiters (``henchman.limiter``), usable inside and outside jobs.

Every process on the same Redis shares a limiter by its name; each decision is one Lua call that
reads the server's clock. All kinds share ``with limiter.within_limit():`` and
``async with limiter.awithin_limit():``, which wait up to ``wait_timeout`` seconds for room and
then raise :class:`~henchman.errors.OverLimit`::

    import henchman

    ERP = henchman.limiter.concurrent("erp", 50, lock_timeout=30, wait_timeout=5)
    STRIPE = henchman.limiter.bucket("stripe", 30, "second")

    @henchman.job
    def sync_invoice(invoice_id):
        with ERP.within_limit():
            ...

An ``OverLimit`` escaping a job reschedules the job (same jid) with a linear backoff instead of
failing it (:class:`OverLimitRescheduler`). The exact contract of each kind is in
``docs/limits.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from henchman.errors import OverLimit
from henchman.limits.base import Admission, Limiter
from henchman.limits.bucket import BucketLimiter
from henchman.limits.concurrent import ConcurrentLimiter
from henchman.limits.leaky import LeakyLimiter
from henchman.limits.middleware import (
    MAX_OVERRATED,
    LimitQueues,
    OverLimitRescheduler,
    linear_backoff,
    queue_admission,
)
from henchman.limits.points import PointsAdmission, PointsLimiter
from henchman.limits.unlimited import UnlimitedLimiter
from henchman.limits.window import WindowLimiter

if TYPE_CHECKING:
    from henchman.app import Henchman


def concurrent(
    name: str,
    size: int,
    lock_timeout: float = 30,
    wait_timeout: float = 5,
    *,
    app: Henchman | None = None,
) -> ConcurrentLimiter:
    """At most ``size`` holders at once; a holder's slot frees after ``lock_timeout`` seconds
    even if it never releases (a crashed process)."""
    return ConcurrentLimiter(
        name, size, lock_timeout=lock_timeout, wait_timeout=wait_timeout, app=app
    )


def bucket(
    name: str, count: int, interval: str, *, wait_timeout: float = 5, app: Henchman | None = None
) -> BucketLimiter:
    """At most ``count`` per calendar ``interval``: "second", "minute", "hour" or "day" (UTC)."""
    return BucketLimiter(name, count, interval, wait_timeout=wait_timeout, app=app)


def window(
    name: str,
    count: int,
    seconds: float | str,
    *,
    wait_timeout: float = 5,
    app: Henchman | None = None,
) -> WindowLimiter:
    """At most ``count`` in any sliding span of ``seconds``."""
    return WindowLimiter(name, count, seconds, wait_timeout=wait_timeout, app=app)


def leaky(
    name: str,
    size: int,
    seconds: float | str,
    *,
    wait_timeout: float = 5,
    app: Henchman | None = None,
) -> LeakyLimiter:
    """A burst of ``size``, then ``size`` per ``seconds`` at a steady drip."""
    return LeakyLimiter(name, size, seconds, wait_timeout=wait_timeout, app=app)


def points(
    name: str,
    points: int,
    seconds: float | str,
    *,
    wait_timeout: float = 5,
    app: Henchman | None = None,
) -> PointsLimiter:
    """A budget of ``points`` per ``seconds``: reserve an estimate, report the actual cost."""
    return PointsLimiter(name, points, seconds, wait_timeout=wait_timeout, app=app)


def unlimited(*, app: Henchman | None = None) -> UnlimitedLimiter:
    """A limiter that admits everything at once (no Redis call)."""
    return UnlimitedLimiter(app=app)


__all__ = [
    "MAX_OVERRATED",
    "Admission",
    "BucketLimiter",
    "ConcurrentLimiter",
    "LeakyLimiter",
    "LimitQueues",
    "Limiter",
    "OverLimit",
    "OverLimitRescheduler",
    "PointsAdmission",
    "PointsLimiter",
    "UnlimitedLimiter",
    "WindowLimiter",
    "bucket",
    "concurrent",
    "leaky",
    "linear_backoff",
    "points",
    "queue_admission",
    "unlimited",
    "window",
]
