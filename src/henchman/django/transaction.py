"""Pushing jobs when the database transaction commits, never for a rolled-back one.

A job pushed inside ``transaction.atomic()`` that reads the rows the transaction writes can run
before they are committed (and find nothing), or run although the transaction rolled back.
:func:`enqueue_on_commit` allocates the jid now, checks the arguments now (a bad argument raises
here, not at commit) and pushes in ``transaction.on_commit``: once if the outermost transaction
commits, never if it rolls back; at once outside any transaction, as Django's ``on_commit`` does.

``HENCHMAN_PUSH_ON_COMMIT = True`` applies the same rule to every push made by the sync client
inside an atomic block (``perform_async``, ``perform_in``, ``henchman.enqueue``, bulk pushes):
each still returns its jid at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from henchman import payload as wire
from henchman.job import Job, Pushable

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.client.plan import PushPlan

__all__ = ["OnCommit", "enqueue_on_commit", "install_push_on_commit"]


def _pushable(job: Any) -> Pushable:
    if isinstance(job, Pushable):
        return job
    if isinstance(job, type) and issubclass(job, Job) and "__henchman__" in job.__dict__:
        pushable: Pushable = job.set()
        return pushable
    raise TypeError(f"enqueue_on_commit() takes a job (a @henchman.job function, a Job class or "
                    f"a .set(...) of one), not {job!r}")  # fmt: skip


def enqueue_on_commit(job: Any, *args: Any, using: str | None = None, **options: Any) -> str:
    """Push ``job(*args)`` when the transaction on ``using`` commits; return its jid now.

    ``options`` are one-off job options as for ``job.set(...)`` (``queue=...``).
    """
    pushable = _pushable(job)
    if options:
        pushable = pushable.set(**options)
    wire.check_args(args)  # a bad argument fails here, where the caller can see it
    definition = pushable._definition()
    job_options = pushable._options()
    jid = wire.new_jid()

    def push() -> None:
        definition.app.client.push(definition.name, args, job_options, jid=jid)

    transaction.on_commit(push, using=using)
    return jid


class OnCommit:
    """The app's push deferral: inside an atomic block, pushes wait for the commit."""

    def __init__(self, app: Henchman, using: str = DEFAULT_DB_ALIAS) -> None:
        self._app = app
        self._using = using

    def __call__(self) -> OnCommit | None:
        return self if connections[self._using].in_atomic_block else None

    def accept(self, plans: Sequence[PushPlan]) -> None:
        held = list(plans)
        transaction.on_commit(lambda: self._app.client.deliver(held), using=self._using)

    async def aaccept(self, plans: Sequence[PushPlan]) -> None:  # pragma: no cover
        raise RuntimeError("pushes from the asyncio client are never deferred")


def install_push_on_commit(app: Henchman, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make every push of ``app``'s sync client inside an atomic block wait for the commit."""
    app.push_deferral = OnCommit(app, using)
    if app._client is not None:  # already opened: applies from its next push
        app._client.deferral = app.push_deferral
