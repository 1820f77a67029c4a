"""Testing iterable jobs: run, interrupt after N items, run again, check each item
was processed exactly once.

::

    from henchman.testing import IterationHarness

    def test_import_resumes_where_it_stopped(henchman_app):   # ImportUsers is on henchman_app
        harness = IterationHarness(ImportUsers, "users.csv")
        assert harness.run(interrupt_after=3).outcome == "interrupted"
        harness.run_to_completion(interrupt_every=5)
        harness.assert_each_item_once()

The harness runs the job in the calling thread through its app's server middleware (the app the
job is registered in), as a worker's processor would (same jid every run, state in that app's
Redis: a real server, such as the ``henchman_app`` fixture's), except that its
"process" reports it is stopping once the run has processed ``interrupt_after`` items. Items are
identified by their cursors: :meth:`IterationHarness.assert_each_item_once` compares the cursors
of every processed item, over all runs, with those of one uninterrupted enumeration.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from henchman import payload as wire
from henchman.context import JobContext
from henchman.errors import RequeueJob
from henchman.middleware.chain import JobRun

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.iteration.job import IterableJob


@dataclass
class RunResult:
    """One run of the job: how it ended and what it processed."""

    #: ``"completed"``, ``"interrupted"`` (requeued, no retry used) or ``"cancelled"``.
    outcome: str
    #: Cursors of the items ``each_iteration`` finished, in order.
    cursors: list[Any] = field(default_factory=list)
    #: The items themselves, in the same order.
    items: list[Any] = field(default_factory=list)
    #: Whether a requeue would put the job at the head of its queue.
    at_head: bool = False


class IterationHarness:
    """Runs one iterable job (one jid) repeatedly in this thread, like successive workers."""

    __test__ = False  # not a test class

    def __init__(self, job: type[IterableJob], *args: Any, **options: Any) -> None:
        """Prepare runs of ``job`` with ``args``; ``options`` are push options (``queue``,
        ``max_iteration_runtime`` ...)."""
        definition = job.__dict__.get("__henchman__")
        if definition is None:
            raise TypeError(f"{job.__qualname__} is abstract: it is not a registered job")
        self.definition = definition
        self.app: Henchman = definition.app
        self.job = job
        built = wire.build(
            definition.name, list(args), {**definition.options, **options}, now=time.time()
        )
        self.payload: dict[str, Any] = wire.decode(wire.encode(built))
        self.jid: str = self.payload["jid"]
        self.runs: list[RunResult] = []

    @property
    def cursors(self) -> list[Any]:
        """Cursors of every processed item over all runs, in order."""
        return [cursor for run in self.runs for cursor in run.cursors]

    @property
    def items(self) -> list[Any]:
        """Every processed item over all runs, in order."""
        return [item for run in self.runs for item in run.items]

    def run(self, *, interrupt_after: int | None = None) -> RunResult:
        """One run; with ``interrupt_after=N`` the process "stops" once N items are processed.

        Exceptions of the job propagate (its state is saved first, as for a real retry)."""
        payload = wire.decode(wire.encode(self.payload))
        result = RunResult("completed")
        ctx = JobContext(payload, str(payload.get("queue", "default")))
        if interrupt_after is not None:
            ctx.interrupted = lambda: _items_done(ctx) >= interrupt_after
        token = ctx.activate()
        try:
            perform = self.definition.bind(ctx)
            _instrument(ctx.instance, result)
            call = lambda: perform(*payload["args"])  # noqa: E731 - one-line thunk
            if self.definition.is_async:
                from henchman.app import _run_coroutine

                _run_coroutine(self._arun(ctx, call))
            else:
                self.app.middleware.invoke(JobRun(ctx), call)
        except RequeueJob as requeue:
            result.outcome, result.at_head = "interrupted", requeue.at_head
        finally:
            JobContext.deactivate(token)
            self.runs.append(result)
        return result

    async def _arun(self, ctx: JobContext, call: Any) -> None:
        try:
            await self.app.middleware.ainvoke(JobRun(ctx), call)
        finally:  # each run has its own event loop: close the connection made on it
            await self.app.aclient.redis.aclose(close_connection_pool=True)

    def run_to_completion(
        self, *, interrupt_every: int | None = None, max_runs: int = 10_000
    ) -> int:
        """Run until the job completes (or is cancelled), interrupting each run after
        ``interrupt_every`` items; return how many runs it took."""
        for count in range(1, max_runs + 1):
            if self.run(interrupt_after=interrupt_every).outcome != "interrupted":
                return count
        raise AssertionError(f"the job did not complete in {max_runs} runs")

    def expected_cursors(self) -> list[Any]:
        """The cursors of one uninterrupted enumeration (``build_enumerator`` from the start;
        no item is processed)."""
        instance = self.job()
        instance._bind(JobContext(wire.decode(wire.encode(self.payload)), "default"))
        args = self.payload["args"]
        if not self.definition.is_async:
            pairs: Any = instance.build_enumerator(*args, cursor=None)
            return [cursor for _, cursor in pairs or ()]

        async def collect() -> list[Any]:
            enumerator: Any = instance.build_enumerator(*args, cursor=None)
            if inspect.isawaitable(enumerator):
                enumerator = await enumerator
            if hasattr(enumerator, "__aiter__"):
                return [cursor async for _, cursor in enumerator]
            return [cursor for _, cursor in enumerator or ()]

        from henchman.app import _run_coroutine

        found: list[Any] = _run_coroutine(collect())
        return found

    def assert_each_item_once(self, expected: Sequence[Any] | None = None) -> None:
        """Assert every item was processed exactly once, in order, over all runs: the processed
        cursors equal ``expected`` (default: :meth:`expected_cursors`)."""
        want = [_norm(c) for c in (self.expected_cursors() if expected is None else expected)]
        got = [_norm(c) for c in self.cursors]
        if got == want:
            return
        seen: set[bytes] = set()
        repeated = [c for c in got if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
        missing = [c for c in want if c not in seen]
        raise AssertionError(
            f"items not processed exactly once over {len(self.runs)} run(s): "
            f"{len(got)} processed, {len(want)} expected; repeated cursors {_show(repeated)}, "
            f"missing cursors {_show(missing)}"
        )


def run_with_interruptions(job: type[IterableJob], *args: Any, every: int) -> IterationHarness:
    """Run ``job`` to completion, interrupting every ``every`` items, and assert each item was
    processed exactly once; returns the harness for more checks."""
    harness = IterationHarness(job, *args)
    harness.run_to_completion(interrupt_every=every)
    harness.assert_each_item_once()
    return harness


def _items_done(ctx: JobContext) -> int:
    run = getattr(ctx.instance, "_run", None)
    return run.items if run is not None else 0


def _instrument(instance: Any, result: RunResult) -> None:
    """Record each finished item and a cancellation on the instance's own methods."""
    each, on_cancel = instance.each_iteration, instance.on_cancel

    if inspect.iscoroutinefunction(each):

        async def recorded_async(item: Any, *args: Any) -> Any:
            value = await each(item, *args)
            result.cursors.append(instance.cursor)
            result.items.append(item)
            return value

        instance.each_iteration = recorded_async
    else:

        def recorded(item: Any, *args: Any) -> Any:
            value = each(item, *args)
            result.cursors.append(instance.cursor)
            result.items.append(item)
            return value

        instance.each_iteration = recorded

    def cancelled() -> Any:
        result.outcome = "cancelled"
        return on_cancel()

    instance.on_cancel = cancelled


def _norm(cursor: Any) -> bytes:
    return orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS)


def _show(cursors: list[bytes], limit: int = 10) -> str:
    shown = ", ".join(c.decode() for c in cursors[:limit])
    more = f" and {len(cursors) - limit} more" if len(cursors) > limit else ""
    return f"[{shown}]{more}"
