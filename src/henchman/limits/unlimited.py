"""The unlimited limiter: admits everything at once and never touches Redis.

Useful where code takes a limiter but a caller (a premium customer, a test) must not be limited.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from henchman.limits.base import Admission, Limiter, new_token

if TYPE_CHECKING:
    from henchman.app import Henchman


class _Free(Admission):
    def points_used(self, actual: float) -> None:
        """Nothing to charge: an unlimited stand-in for a points limiter accepts the report."""


class UnlimitedLimiter(Limiter):
    """Always admits; ``within_limit`` costs no round trip."""

    kind = "unlimited"

    def __init__(self, *, app: Henchman | None = None) -> None:
        super().__init__("unlimited", wait_timeout=0, app=app)

    def definition(self) -> dict[str, str | int | float]:
        return {"kind": self.kind}

    def acquire(self, wait_timeout: float | None = None, **options: Any) -> Admission:
        admission = self.admission(**options)
        admission.admitted_at = time.time()
        return admission

    def release(self, admission: Admission) -> None:
        return None

    async def aacquire(self, wait_timeout: float | None = None, **options: Any) -> Admission:
        return self.acquire(wait_timeout, **options)

    async def arelease(self, admission: Admission) -> None:
        return None

    def admission(self, **options: Any) -> Admission:
        options.pop("estimate", None)  # a stand-in for a points limiter accepts its option
        if options:
            raise TypeError(f"unexpected option(s) for unlimited limiter: {', '.join(options)}")
        return _Free(self.name, new_token())
