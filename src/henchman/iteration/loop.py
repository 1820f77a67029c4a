"""The iteration loop of one run of an iterable job: the shared decisions and the sync shell
; the asyncio shell is :mod:`henchman.iteration.aloop`.

A run, in order:

1. read ``it-<jid>``; if cancelled: ``on_cancel``, ``on_stop``, delete the state, done;
2. count the execution, restore temp files (which may move the cursor), write the state (so
   the run is visible at once, and a cancellation is seen);
3. ``build_enumerator(*args, cursor=...)``, then ``on_start`` (first run) or ``on_resume``;
4. per item: decide (:class:`Run`) whether to write the state and whether to stop; if not
   stopping, ``each_iteration`` inside ``around_iteration``;
5. ``on_stop``; then by outcome: completed -> ``on_complete``, delete the state; cancelled ->
   ``on_cancel`` first, delete the state; interrupted -> temp files offloaded,
   :class:`~henchman.errors.RequeueJob` (no retry used); exception -> state written with the
   failing item's cursor, temp files offloaded, the exception goes on to the retry logic.

Guarantee: on interruption the saved cursor is that of the first item not processed, so the
next run neither repeats nor skips one. After a crash (SIGKILL, OOM) the job resumes from the
last periodic write, repeating at most :data:`~henchman.iteration.state.FLUSH_INTERVAL` seconds
of items. An exception raised by the enumerator itself (not by ``each_iteration``) resumes at
the last item it produced, which then runs again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from henchman.errors import RequeueJob
from henchman.iteration import state
from henchman.iteration.offload import TempFiles
from henchman.iteration.state import Checkpoint, Interruption, RunClock

if TYPE_CHECKING:
    from henchman.iteration.job import IterableJob

COMPLETED = "completed"
CANCELLED = "cancelled"
Outcome = Interruption | str


@dataclass(slots=True)
class Run:
    """One run's state and the decisions both shells share."""

    checkpoint: Checkpoint
    clock: RunClock
    files: TempFiles | None = None
    #: Items processed by this run.
    items: int = 0
    #: Whether the run starts over (temp files lost), so ``on_start`` runs again.
    restarted: bool = False

    def before_item(
        self, cursor: Any, now: float, *, stopping: bool, quieting: bool
    ) -> tuple[bool, Interruption | None]:
        """Take the next item's cursor; return (write the state now?, why stop, if stopping)."""
        self.checkpoint.cursor = cursor
        reason = self.clock.interruption(now, stopping=stopping, quieting=quieting)
        write = reason is not None or self.clock.flush_due(now)
        if write:
            self.checkpoint.runtime = self.clock.runtime(now)
            self.clock.flushed(now)
        return write, reason

    @property
    def starting(self) -> bool:
        """Whether this run starts the work (``on_start``) rather than resuming it: the first
        run, or one starting over because its temp files were lost."""
        return self.checkpoint.executions == 1 or self.restarted

    def settle_runtime(self, now: float) -> None:
        """Account this run's time so far (before a final write)."""
        self.checkpoint.runtime = self.clock.runtime(now)


def begin(job: IterableJob, checkpoint: Checkpoint, now: float) -> Run:
    """Count the execution and attach a new :class:`Run` to ``job``."""
    checkpoint.executions += 1
    clock = RunClock(
        now, checkpoint.runtime, job._runtime_limit(), flush_interval=job._flush_interval
    )
    run = Run(checkpoint, clock)
    run.files = job._temp_files()
    job._run = run
    return run


def as_pair(pair: Any) -> tuple[Any, Any]:
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise TypeError(f"build_enumerator must yield (item, cursor) pairs, got {pair!r}")
    return pair


def _sync_items(enumerator: Any) -> Any:
    if enumerator is None:
        return iter(())
    if not hasattr(enumerator, "__iter__"):
        raise TypeError(
            f"build_enumerator returned {type(enumerator).__name__}: a sync iterable job needs an "
            "iterator of (item, cursor) pairs (async iterators need an async each_iteration)"
        )
    return iter(enumerator)


def close_enumerator(enumerator: Any) -> None:
    close = getattr(enumerator, "close", None)
    if callable(close):
        close()


def log_interrupted(job: IterableJob, run: Run, reason: Interruption) -> None:
    job.logger.info(
        "iteration interrupted (%s) after %d item(s); resumes at cursor %r",
        reason.value,
        run.items,
        run.checkpoint.cursor,
    )


# --- sync shell -----------------------------------------------------------------------------


def run(
    job: IterableJob, args: tuple[Any, ...], clock: Callable[[], float] = time.monotonic
) -> None:
    """Run one execution of ``job`` (its ``perform``); see the module docstring."""
    layout = job.app.keys
    redis = job._sync_redis()
    checkpoint = state.load(redis, job.jid, layout)
    current = begin(job, checkpoint, clock())
    if checkpoint.cancelled:
        _finish(job, current, CANCELLED)
        return
    if current.files is not None:
        current.checkpoint.cursor, current.restarted = current.files.restore(checkpoint.cursor)
        if current.restarted:
            state.reset_progress(redis, job.jid, layout)
    if state.flush(redis, job.jid, current.checkpoint, job.app.keys):
        _finish(job, current, CANCELLED)
        return
    enumerator: Any = None
    try:
        enumerator = job.build_enumerator(*args, cursor=current.checkpoint.cursor)
        (job.on_start if current.starting else job.on_resume)()
        outcome = _iterate(job, current, _sync_items(enumerator), args, clock)
    except Exception:
        current.settle_runtime(clock())
        _save_after_error(job, current, enumerator)
        raise
    close_enumerator(enumerator)
    _finish(job, current, outcome)


def _iterate(
    job: IterableJob, current: Run, items: Any, args: tuple[Any, ...], clock: Callable[[], float]
) -> Outcome:
    ctx = job._ctx
    redis = job._sync_redis()
    for pair in items:
        item, cursor = as_pair(pair)
        write, reason = current.before_item(
            cursor, clock(), stopping=ctx.interrupted(), quieting=ctx.quieting()
        )
        if write and state.flush(redis, job.jid, current.checkpoint, job.app.keys):
            return CANCELLED
        if reason is not None:
            return reason
        with job.around_iteration():
            job.each_iteration(item, *args)
        current.items += 1
    return COMPLETED


def _finish(job: IterableJob, current: Run, outcome: Outcome) -> None:
    if outcome == CANCELLED:
        job.logger.info("iteration cancelled after %d execution(s)", current.checkpoint.executions)
        job.on_cancel()
    job.on_stop()
    if isinstance(outcome, Interruption):
        if current.files is not None:
            current.files.offload(current.checkpoint.cursor)
        log_interrupted(job, current, outcome)
        raise RequeueJob(at_head=outcome.at_head)
    if outcome == COMPLETED:
        job.on_complete()
    if current.files is not None:
        current.files.discard()
    state.cleanup(job._sync_redis(), job.jid, type(job).keep_ledger_for, job.app.keys)


def _save_after_error(job: IterableJob, current: Run, enumerator: Any) -> None:
    """Save the failing item's cursor (and temp files) so the retry resumes there; problems
    here are logged, never allowed to hide the job's own exception."""
    try:
        close_enumerator(enumerator)
        job.on_stop()
    except Exception:
        job.logger.exception("closing the enumerator or on_stop failed after the job failed")
    try:
        state.flush(job._sync_redis(), job.jid, current.checkpoint, job.app.keys)
        if current.files is not None:
            current.files.offload(current.checkpoint.cursor)
    except Exception:
        job.logger.exception("could not save the iteration state after the job failed")
