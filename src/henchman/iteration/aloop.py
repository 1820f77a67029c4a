"""The asyncio shell of the iteration loop, for jobs whose ``each_iteration`` is ``async def``:
the same steps and decisions as :mod:`henchman.iteration.loop` (see its docstring), awaiting
callbacks that return awaitables, iterating sync or async enumerators, and moving temp files in a
thread so the event loop never blocks on them."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from henchman.errors import RequeueJob
from henchman.iteration import state
from henchman.iteration.loop import (
    CANCELLED,
    COMPLETED,
    Outcome,
    Run,
    as_pair,
    begin,
    close_enumerator,
    log_interrupted,
)
from henchman.iteration.state import Interruption

if TYPE_CHECKING:
    from henchman.iteration.job import IterableJob


async def _call(fn: Callable[[], Any]) -> Any:
    result = fn()
    return await result if inspect.isawaitable(result) else result


async def arun(
    job: IterableJob, args: tuple[Any, ...], clock: Callable[[], float] = time.monotonic
) -> None:
    """Asyncio twin of :func:`henchman.iteration.loop.run`, for jobs whose ``each_iteration``
    is ``async def``. The run has its own connection, closed when it ends (an event loop may not
    outlive it); temp file transfers run in a thread so they never block the event loop."""
    job._aclient = job.app.connector.asyncio()
    try:
        await _arun(job, args, clock)
    finally:
        client, job._aclient = job._aclient, None
        await client.aclose(close_connection_pool=True)  # the pool is the client's own


async def _arun(job: IterableJob, args: tuple[Any, ...], clock: Callable[[], float]) -> None:
    layout = job.app.keys
    redis = job._async_redis()
    checkpoint = await state.aload(redis, job.jid, layout)
    current = begin(job, checkpoint, clock())
    if checkpoint.cancelled:
        await _afinish(job, current, CANCELLED)
        return
    files = current.files
    if files is not None:
        cursor, current.restarted = await asyncio.to_thread(files.restore, checkpoint.cursor)
        current.checkpoint.cursor = cursor
        if current.restarted:
            await state.areset_progress(redis, job.jid, layout)
    if await state.aflush(redis, job.jid, current.checkpoint, job.app.keys):
        await _afinish(job, current, CANCELLED)
        return
    enumerator: Any = None
    try:
        enumerator = await _call(
            lambda: job.build_enumerator(*args, cursor=current.checkpoint.cursor)
        )
        await _call(job.on_start if current.starting else job.on_resume)
        outcome = await _aiterate(job, current, enumerator, args, clock)
    except Exception:
        current.settle_runtime(clock())
        await _asave_after_error(job, current, enumerator)
        raise
    await _aclose(enumerator)
    await _afinish(job, current, outcome)


async def _pairs(enumerator: Any) -> Any:
    if enumerator is None:
        return
    if hasattr(enumerator, "__aiter__"):
        async for pair in enumerator:
            yield pair
    else:
        for pair in enumerator:
            yield pair


async def _aiterate(
    job: IterableJob,
    current: Run,
    enumerator: Any,
    args: tuple[Any, ...],
    clock: Callable[[], float],
) -> Outcome:
    ctx = job._ctx
    redis = job._async_redis()
    async for pair in _pairs(enumerator):
        item, cursor = as_pair(pair)
        write, reason = current.before_item(
            cursor, clock(), stopping=ctx.interrupted(), quieting=ctx.quieting()
        )
        if write and await state.aflush(redis, job.jid, current.checkpoint, job.app.keys):
            return CANCELLED
        if reason is not None:
            return reason
        manager = job.around_iteration()
        if hasattr(manager, "__aenter__"):
            async with manager:
                await job.each_iteration(item, *args)
        else:
            with manager:
                await job.each_iteration(item, *args)
        current.items += 1
    return COMPLETED


async def _aclose(enumerator: Any) -> None:
    aclose = getattr(enumerator, "aclose", None)
    if callable(aclose):
        await aclose()
    else:
        close_enumerator(enumerator)


async def _afinish(job: IterableJob, current: Run, outcome: Outcome) -> None:
    if outcome == CANCELLED:
        job.logger.info("iteration cancelled after %d execution(s)", current.checkpoint.executions)
        await _call(job.on_cancel)
    await _call(job.on_stop)
    files = current.files
    if isinstance(outcome, Interruption):
        if files is not None:
            await asyncio.to_thread(files.offload, current.checkpoint.cursor)
        log_interrupted(job, current, outcome)
        raise RequeueJob(at_head=outcome.at_head)
    if outcome == COMPLETED:
        await _call(job.on_complete)
    if files is not None:
        await asyncio.to_thread(files.discard)
    await state.acleanup(job._async_redis(), job.jid, type(job).keep_ledger_for, job.app.keys)


async def _asave_after_error(job: IterableJob, current: Run, enumerator: Any) -> None:
    try:
        await _aclose(enumerator)
        await _call(job.on_stop)
    except Exception:
        job.logger.exception("closing the enumerator or on_stop failed after the job failed")
    try:
        await state.aflush(job._async_redis(), job.jid, current.checkpoint, job.app.keys)
        if current.files is not None:
            await asyncio.to_thread(current.files.offload, current.checkpoint.cursor)
    except Exception:
        job.logger.exception("could not save the iteration state after the job failed")
