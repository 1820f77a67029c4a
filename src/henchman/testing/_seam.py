"""The one place ``henchman.testing`` reaches into an app: its client slots, and running a plan.

Recording and inline mode need every push made through an app, from any code path
(``perform_async``/``perform_in``/``perform_at``/``perform_bulk``/``set``/``enqueue`` and their
asyncio twins), to end somewhere other than Redis. Every one of those paths goes through
``app.client`` / ``app.aclient``, and each client funnels its planned pushes through a single
``write(plans)`` method. So a test mode installs stand-in clients that subclass the real ones and
override only ``write``: planning (argument validation, client middleware, jid and timestamps) is
the production code, unchanged.

The stand-ins are put into the app's private ``_client`` / ``_aclient`` slots for the duration of
a ``with`` block and the previous occupants are put back afterwards, so nothing global is switched
and nested modes restore each other in order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from henchman import payload as wire
from henchman.client.aio import AsyncClient
from henchman.client.plan import PushPlan
from henchman.client.sync import Client

if TYPE_CHECKING:
    from henchman.app import Henchman

#: Receives every batch of planned pushes a stand-in client is asked to write.
Sink = Callable[[Sequence[PushPlan]], None]


def _no_connection() -> NoReturn:
    raise RuntimeError("henchman.testing: this client captures pushes and never connects to Redis")


class CapturingClient(Client):
    """A sync client whose writes go to ``sink`` instead of Redis."""

    def __init__(self, app: Henchman, sink: Sink) -> None:
        super().__init__(_no_connection)
        # The app's own list, not a copy: middleware added inside the block applies too.
        self.middleware = app.client_middleware
        self._sink = sink

    def write(self, plans: Sequence[PushPlan]) -> None:
        """Hand ``plans`` to the sink (no Redis, no reliable-push buffer)."""
        self._sink(plans)


class CapturingAsyncClient(AsyncClient):
    """An asyncio client whose writes go to ``sink`` instead of Redis."""

    def __init__(self, app: Henchman, sink: Sink) -> None:
        super().__init__(_no_connection)
        self.middleware = app.client_middleware
        self._sink = sink

    async def write(self, plans: Sequence[PushPlan]) -> None:
        """Hand ``plans`` to the sink (no Redis)."""
        self._sink(plans)


@contextlib.contextmanager
def clients_replaced(app: Henchman, sink: Sink) -> Iterator[None]:
    """Route every push made through ``app`` to ``sink`` inside the block; restore on exit."""
    sync_client, async_client = CapturingClient(app, sink), CapturingAsyncClient(app, sink)
    with app._lock:
        saved = (app._client, app._aclient)
        app._client, app._aclient = sync_client, async_client
    try:
        yield
    finally:
        with app._lock:
            app._client, app._aclient = saved


def run_plan(app: Henchman, plan: PushPlan) -> Any:
    """Run one planned push now, in this thread: JSON round trip, then the server middleware.

    A scheduled job gets the fresh ``enqueued_at`` the scheduler would give it when due. Raises
    :class:`~henchman.errors.UnknownJob` for a job name ``app`` has no definition for, and
    whatever the job (or a middleware) raises.
    """
    payload = wire.decode(plan.raw)
    if plan.at is not None:
        payload.setdefault("enqueued_at", time.time())
    definition = app.registry.get(payload["class"])
    return app.run_payload(definition, payload)
