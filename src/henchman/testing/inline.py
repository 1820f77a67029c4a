"""Inline mode: every push runs its job at once, in the pushing thread.

::

    with henchman.testing.inline(app):
        jid = send_email.perform_async(42)   # send_email has already run when this returns

Each push is planned as in production (``TypeError`` for non-JSON arguments, client middleware),
then run like :meth:`henchman.testing.Recorder.drain` runs a job: JSON round trip, server
middleware, via ``app.run_payload``. Scheduled pushes run immediately too. A job's exception
propagates out of the push call; jobs it pushes run inline as well, nested inside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from henchman.client.plan import PushPlan
from henchman.testing._seam import clients_replaced, run_plan

if TYPE_CHECKING:
    from henchman.app import Henchman


@contextlib.contextmanager
def inline(app: Henchman | None = None) -> Iterator[None]:
    """Run every job pushed through ``app`` (default: the default app) inside the block at once.

    Push methods still return the jid (``None`` if a client middleware dropped the push). An
    ``async def`` job runs on a private event loop (``app.run_payload``), in a helper thread when
    the push happens inside a running loop. Nothing is written to Redis; no connection is opened.
    """
    if app is None:
        from henchman.app import default_app

        app = default_app()
    target = app

    def run_all(plans: Sequence[PushPlan]) -> None:
        for plan in plans:
            run_plan(target, plan)

    with clients_replaced(app, run_all):
        yield
