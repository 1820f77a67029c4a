"""``henchman.Batch``: a group of jobs with callbacks (Sidekiq Pro's batches).

::

    batch = henchman.Batch(description="incentives", callback_queue="critical")
    batch.on("success", notify_done, {"campaign": 7})
    with batch.jobs():
        for user in users:
            send_incentive.perform_async(user.id)

Every push made inside ``jobs()`` (by this thread or task) gets the batch's ``bid`` and is held
back; when the outermost block ends, one script makes them all visible to workers and registers
them in their batches. If the block raises, nothing is pushed. Batches opened inside a block, or
inside a job of a batch, are children of that batch.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from henchman.app_default import default_app
from henchman.batches import model, staging
from henchman.batches.staging import Stage
from henchman.batches.status import BatchStatus
from henchman.client import capture
from henchman.client.plan import PushPlan
from henchman.context import current_job
from henchman.errors import BatchError

if TYPE_CHECKING:
    from henchman.app import Henchman


@dataclass(eq=False)
class _Block:
    """The outermost open ``jobs()`` block of this context and every batch staged in it."""

    stages: list[Stage] = field(default_factory=list)


_block: contextvars.ContextVar[_Block | None] = contextvars.ContextVar(
    "henchman_batch_block", default=None
)
_stage: contextvars.ContextVar[Stage | None] = contextvars.ContextVar(
    "henchman_batch_stage", default=None
)


class _Sink:
    """Receives the pushes of one batch's block (the innermost open block wins)."""

    def __init__(self, batch: Batch, stage: Stage) -> None:
        self.batch = batch
        self.stage = stage

    def accept(self, plans: Sequence[PushPlan]) -> None:
        if self.stage.take(plans):
            pipe = self.batch.app.client.redis.pipeline(transaction=False)
            self.stage.queue_slice(pipe)
            pipe.execute()

    async def aaccept(self, plans: Sequence[PushPlan]) -> None:
        if self.stage.take(plans):
            pipe = self.batch.app.aclient.redis.pipeline(transaction=False)
            self.stage.queue_slice(pipe)
            await pipe.execute()


def _context_parent() -> str | None:
    """The batch a new batch opened here belongs to: the innermost open ``jobs()`` block's, else
    the running job's."""
    enclosing = _stage.get()
    if enclosing is not None:
        return enclosing.bid
    job = current_job()
    if job is not None and isinstance(job.payload.get("bid"), str):
        return str(job.payload["bid"])
    return None


def _callback_name(app: Henchman, job: Any) -> tuple[str, dict[str, Any]]:
    """The wire name and options of a callback job, which must be registered in ``app``
    (``job.set(queue=...)`` keeps its overrides)."""
    if isinstance(job, str):
        name = job
    else:
        definition = getattr(job, "__henchman__", None)
        if definition is None and hasattr(job, "_definition"):
            definition = job._definition()
        name = getattr(definition, "name", None) or repr(job)
    if name not in app.registry:
        raise BatchError(f"batch callback {name!r} is not a registered job")
    options = dict(app.registry.get(name).options)
    if hasattr(job, "_overrides"):
        options.update(job._overrides())
    return name, options


class Batch:
    """A new batch (``Batch(description=..., callback_queue=...)``) or an existing one reopened
    to add jobs (``Batch(bid)``, or :func:`current_batch` inside one of its jobs)."""

    def __init__(
        self,
        bid: str | None = None,
        *,
        description: str | None = None,
        callback_queue: str | None = None,
        app: Henchman | None = None,
    ) -> None:
        if bid is not None and (description is not None or callback_queue is not None):
            raise BatchError(
                "description and callback_queue belong to a new batch, not a reopened one"
            )
        if bid is not None and (not isinstance(bid, str) or not bid):
            raise BatchError(f"a batch id must be a non-empty string, not {bid!r}")
        if app is None:
            app = default_app()
        self.app = app
        self.new = bid is None
        self.bid = bid or model.new_bid()
        self.description = description
        self.callback_queue = callback_queue
        self.parent_bid: str | None = None
        self._callbacks: list[model.Callback] = []
        if self.new and app.keys.cluster:  # a child's bid names its family's slot
            self.bid = model.family_bid(self.bid, _context_parent(), True)

    def __repr__(self) -> str:
        return f"<henchman.Batch {self.bid}{' (new)' if self.new else ''}>"

    def on(self, event: str, job: Any, options: dict[str, Any] | None = None) -> Batch:
        """Run ``job(status, options)`` once when ``event`` happens: ``"complete"`` (every job ran
        at least once), ``"success"`` (every job succeeded) or ``"death"`` (the first job died).
        ``job`` is a registered job (function, class or wire name); ``options`` a JSON object."""
        model.check_event(event)
        checked = model.check_options(options)
        name, job_options = _callback_name(self.app, job)
        if not self.new:
            raise BatchError(f"batch {self.bid} already exists: callbacks belong to a new batch")
        self._callbacks.append(model.Callback(event, name, job_options, checked))
        return self

    # --- jobs() blocks --------------------------------------------------------------------------

    def _open(self) -> tuple[Stage, _Block | None]:
        outer = _block.get()
        if self.new and self.parent_bid is None:
            self.parent_bid = _context_parent()
            self.bid = model.family_bid(self.bid, self.parent_bid, self.app.keys.cluster)
        fields: dict[str, Any] = {}
        if self.new:
            fields = model.callback_fields(self._callbacks, self.callback_queue, self.parent_bid)
            if self.description is not None:
                fields["description"] = str(self.description)
            if self.callback_queue is not None:
                fields["cbq"] = str(self.callback_queue)
        stage = Stage(self.bid, self.new, self.parent_bid, fields, layout=self.app.keys)
        return stage, outer

    @contextmanager
    def jobs(self) -> Iterator[Batch]:
        """Collect the pushes of this block into the batch; push them all when the outermost
        block ends, or none of them if it raises."""
        stage, outer = self._open()
        block = outer or _Block()
        block.stages.append(stage)
        tokens = (_block.set(block), _stage.set(stage))
        try:
            with capture.capturing(_Sink(self, stage)):
                yield self
        except BaseException:
            _stage.reset(tokens[1])
            _block.reset(tokens[0])
            block.stages.remove(stage)
            self._rollback([stage] if outer else [stage, *block.stages])
            raise
        _stage.reset(tokens[1])
        _block.reset(tokens[0])
        if outer is None:
            self._commit(block.stages)
        self.new = False  # from now on the batch exists (or will, with the outer block)

    @asynccontextmanager
    async def ajobs(self) -> AsyncIterator[Batch]:
        """Asyncio twin of :meth:`jobs` (``async with batch.ajobs(): await j.aperform_async()``)."""
        stage, outer = self._open()
        block = outer or _Block()
        block.stages.append(stage)
        tokens = (_block.set(block), _stage.set(stage))
        try:
            with capture.capturing(_Sink(self, stage)):
                yield self
        except BaseException:
            _stage.reset(tokens[1])
            _block.reset(tokens[0])
            block.stages.remove(stage)
            await self._arollback([stage] if outer else [stage, *block.stages])
            raise
        _stage.reset(tokens[1])
        _block.reset(tokens[0])
        if outer is None:
            await self._acommit(block.stages)
        self.new = False

    def _commit(self, stages: list[Stage]) -> None:
        staging.commit(self.app.client.redis, stages, self.app.settings)

    async def _acommit(self, stages: list[Stage]) -> None:
        await staging.acommit(self.app.aclient.redis, stages, self.app.settings)

    def _rollback(self, stages: list[Stage]) -> None:
        staging.rollback(self.app.client.redis, stages)

    async def _arollback(self, stages: list[Stage]) -> None:
        await staging.arollback(self.app.aclient.redis, stages)

    # --- status -----------------------------------------------------------------------------------

    def status(self) -> BatchStatus:
        """The batch's status now (see :class:`henchman.api.BatchStatus`)."""
        return BatchStatus(self.bid, app=self.app)


def current_batch() -> Batch | None:
    """The batch of the running job, reopened to add jobs to it (``None`` outside a batch job).

    ``with henchman.current_batch().jobs(): more.perform_async()`` adds jobs while this job is
    still pending, so the batch cannot finish in between.
    """
    job = current_job()
    bid = job.payload.get("bid") if job is not None else None
    if not isinstance(bid, str) or not bid:
        return None
    return Batch(bid, app=job.app if job is not None else None)
