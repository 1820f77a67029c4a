"""Capturing pushes: a context in which the clients hand planned pushes to a sink instead of
writing them (how a batch's ``jobs()`` block collects its jobs; a seam for any feature
that must make a group of pushes visible at once).

The sink is a context variable, so it applies to pushes made by this thread or asyncio task
only, through any client of any app.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from henchman.client.plan import PushPlan


class PushSink(Protocol):
    """Takes planned pushes in place of Redis."""

    def accept(self, plans: Sequence[PushPlan]) -> None:
        """Take pushes made by the sync client."""

    async def aaccept(self, plans: Sequence[PushPlan]) -> None:
        """Take pushes made by the asyncio client."""


_sink: contextvars.ContextVar[PushSink | None] = contextvars.ContextVar(
    "henchman_push_sink", default=None
)


def active() -> PushSink | None:
    """The sink pushes go to now, or ``None`` (write to Redis)."""
    return _sink.get()


@contextmanager
def capturing(sink: PushSink) -> Iterator[PushSink]:
    """Send this context's pushes to ``sink`` until the block ends."""
    token = _sink.set(sink)
    try:
        yield sink
    finally:
        _sink.reset(token)
