"""Workflows built only on batches: ``chain``, ``group`` and ``chord`` (Celery's canvas).

::

    henchman.chain(fetch.s(url), parse.s(), store.s()).perform_async()
    henchman.chord([resize.s(i) for i in ids], notify.s(gallery_id)).perform_async()

How they map onto batches (no second mechanism):

* every workflow is one root :class:`~henchman.batches.batch.Batch` (returned by
  ``perform_async``; its callbacks are the workflow's, set with ``.on``);
* a ``group`` is a batch holding its members (a member that is itself a group or a chain is a
  child batch);
* a ``chain`` is a batch with one child batch per step; every step's jobs are registered in
  their step's batch when the workflow is created, but only the first step is pushed: each
  step's batch pushes the next step's payloads from its ``success`` — the exactly-once Lua step
  that counts the last job — so a step starts once, after the previous one succeeded (a failure
  holds the chain until its retry succeeds);
* ``chord(header, body)`` is ``chain(group(*header), body)``.

A step's return value is not passed on (henchman stores no results): jobs exchange data through
your own storage, keyed for instance by the workflow's bid (``BatchStatus(bid).parent_bid``
walks up from a step's batch to the root).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import orjson

from henchman import payload as wire
from henchman.app_default import default_app
from henchman.batches import model
from henchman.batches.batch import Batch, _stage
from henchman.batches.staging import Stage
from henchman.client.plan import PushPlan, plan_push
from henchman.errors import BatchError
from henchman.job import Signature

if TYPE_CHECKING:
    from henchman.app import Henchman

Node = Union["Signature", "Group", "Chain"]


def _plan(signature: Signature, bid: str, now: float) -> PushPlan:
    """The push of a signature's job as a member of batch ``bid``."""
    definition = signature.definition
    planned = plan_push(
        definition.name, signature.args, signature.options, definition.app.client_middleware,
        now=now,
    )  # fmt: skip
    if planned is None:
        raise BatchError(f"a client middleware dropped workflow step {definition.name}")
    return planned._replace(raw=model.mark_bid(planned.raw, bid))


def _nodes(items: Iterable[Any], what: str) -> tuple[Node, ...]:
    found = tuple(items)
    for item in found:
        if not isinstance(item, Signature | Group | Chain):
            raise BatchError(
                f"{what}() takes job.s(...) signatures, groups and chains, not {item!r}"
            )
    return found


@dataclass(eq=False)
class _Workflow:
    """What ``Group`` and ``Chain`` share: root callbacks and the push methods."""

    nodes: tuple[Node, ...]
    callbacks: list[tuple[str, Any, dict[str, Any] | None]] = field(default_factory=list)

    def on(self, event: str, job: Any, options: dict[str, Any] | None = None) -> Any:
        """A callback on the workflow's root batch (see :meth:`Batch.on`)."""
        model.check_event(event)
        model.check_options(options)
        self.callbacks.append((event, job, options))
        return self

    def _app(self) -> Henchman:
        for node in self.nodes:
            app = node.definition.app if isinstance(node, Signature) else node._app()
            if app is not None:
                return app
        return default_app()

    def _root(self, description: str | None) -> Batch:
        root = Batch(description=description, app=self._app())
        for event, job, options in self.callbacks:
            root.on(event, job, options)
        return root

    def perform_async(self, *, description: str | None = None) -> Batch:
        """Create every batch of the workflow and push its first jobs, in one atomic commit;
        returns the root batch (``.bid``, ``.status()``)."""
        root = self._root(description)
        with root.jobs():
            _build(self, root)
        return root

    async def aperform_async(self, *, description: str | None = None) -> Batch:
        """Asyncio twin of :meth:`perform_async`."""
        root = self._root(description)
        async with root.ajobs():
            _build(self, root)
        return root


class Group(_Workflow):
    """Jobs that run in parallel: one batch (``henchman.group(a.s(1), b.s(2))``)."""


class Chain(_Workflow):
    """Steps that run one after another, each once the previous succeeded."""


def group(*nodes: Any) -> Group:
    """A group of signatures (or nested groups/chains); a single iterable is accepted too."""
    if len(nodes) == 1 and not isinstance(nodes[0], Signature | Group | Chain):
        nodes = tuple(nodes[0])
    return Group(_nodes(nodes, "group"))


def chain(*nodes: Any) -> Chain:
    """Steps run in order; a step is a signature, a group or a chain."""
    if not nodes:
        raise BatchError("chain() needs at least one step")
    return Chain(_nodes(nodes, "chain"))


def chord(header: Any, body: Any) -> Chain:
    """``body`` runs once every job of ``header`` (a group or an iterable of signatures) has
    succeeded: ``chain(group(*header), body)``."""
    members = header if isinstance(header, Group) else group(header)
    return chain(members, *_nodes([body], "chord"))


class _Builder:
    """Lays a workflow out as staged batches inside the root's open ``jobs()`` block."""

    def __init__(self, stages: dict[str, Stage], add: Any) -> None:
        self.stages = stages
        self.add = add
        self.now = time.time()

    def child(self, parent: Stage) -> Stage:
        bid = model.family_bid(model.new_bid(), parent.bid, parent.layout.cluster)
        stage = Stage(bid, True, parent.bid, {}, layout=parent.layout)
        self.stages[stage.bid] = stage
        self.add(stage)
        return stage

    def member(self, node: Node, stage: Stage) -> list[tuple[Stage, PushPlan]]:
        """``node`` as one member of ``stage``: a job, or a child batch for a group/chain."""
        if isinstance(node, Signature):
            plan = _plan(node, stage.bid, self.now)
            stage.registered.append(plan.jid)
            return [(stage, plan)]
        return self.content(node, self.child(stage))

    def content(self, node: Node, stage: Stage) -> list[tuple[Stage, PushPlan]]:
        """Fill ``stage`` with ``node``; returns the plans that start it, with their batch."""
        if isinstance(node, Signature | Group):
            members = (node,) if isinstance(node, Signature) else node.nodes
            return [found for member in members for found in self.member(member, stage)]
        steps = [self.child(stage) for _ in node.nodes]
        pairs = zip(node.nodes, steps, strict=True)
        starts = [self.content(step_node, step) for step_node, step in pairs]
        for step, following in zip(steps[:-1], starts[1:], strict=True):
            entries = [_push_entry(plan) for _, plan in following]
            step.fields["cb-success"] = orjson.dumps(entries).decode()
        return starts[0]


def _push_entry(plan: PushPlan) -> list[str]:
    """A ``[queue, payload, "push"]`` entry: pushed as it is, with a fresh ``enqueued_at``."""
    payload = wire.decode(plan.raw)
    payload.pop("enqueued_at", None)
    return [plan.queue, wire.encode(payload).decode(), "push"]


def _build(workflow: _Workflow, root: Batch) -> None:
    from henchman.batches.batch import _block

    block, root_stage = _block.get(), _stage.get()
    assert block is not None
    assert root_stage is not None
    builder = _Builder({root_stage.bid: root_stage}, block.stages.append)
    node: Node = workflow if isinstance(workflow, Chain) else Group(workflow.nodes)
    starts = builder.content(node, root_stage)
    # The first jobs are pushed now instead of waiting in their batch as registered jids.
    started = {plan.jid for _, plan in starts}
    for stage in builder.stages.values():
        stage.registered = [jid for jid in stage.registered if jid not in started]
    for stage, plan in starts:
        stage.put(plan)
