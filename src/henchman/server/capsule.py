"""A capsule: a group of queues with its own concurrency.

Sync jobs run on ``concurrency`` worker threads, each looping fetch -> run -> acknowledge with no
hand-off: the thread that fetches a job runs it. Async jobs run on one asyncio event loop with
``async_concurrency`` worker tasks (only when the registry holds async jobs). Both kinds fetch
through the same reliable fetch; a thread that fetches an async job runs it on the loop and waits,
and a task that fetches a sync job runs it on a small thread pool, so either kind can take any
job from a shared queue.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aredis

from henchman.config import QueueSpec
from henchman.errors import ConfigError
from henchman.redis.scripts import AsyncScripts, Scripts
from henchman.redis.serial import async_script_pipeline, script_pipeline
from henchman.server.afetch import AsyncReliableFetcher
from henchman.server.fetch import (
    FetcherFactory,
    ReliableFetcher,
    UnitOfWork,
    last_reply,
    send_acks,
    validate,
)
from henchman.server.outage import OutageLog, acall_until_done, call_until_done
from henchman.server.processor import Processor, Write, deferred
from henchman.server.queue_list import PausedQueues, QueueList
from henchman.server.reconcile import Reconciler
from henchman.server.stats import Counters

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings

log = logging.getLogger("henchman")


async def _atrue() -> bool:
    return True


class Capsule:
    """Queues, a fetcher and the runners that execute their jobs."""

    def __init__(
        self,
        name: str,
        app: Henchman,
        settings: Settings,
        identity: str,
        queues: Sequence[QueueSpec],
        client: redis.Redis,
        async_client: Callable[[], aredis.Redis],
        counters: Counters,
        outages: OutageLog,
        *,
        concurrency: int,
        async_concurrency: int,
        fetcher_factory: FetcherFactory | None = None,
        paused: PausedQueues | None = None,
    ) -> None:
        self.name = name
        self.app = app
        self.settings = settings
        self.identity = identity
        #: The configured queues; its ``active()`` leaves out the paused ones (shared ``paused``).
        self.queues = QueueList(queues, paused)
        self.concurrency = concurrency
        #: The async slots configured (``async_concurrency`` is 0 when no async job is registered).
        self.configured_async = async_concurrency
        self.async_concurrency = async_concurrency if app.registry.has_async() else 0
        self.sync_threads = (
            concurrency if (app.registry.has_sync() or not self.async_concurrency) else 0
        )
        self._redis = client
        #: The event loop's client, once the loop runs (writes with ``before`` calls use it).
        self._aredis: aredis.Redis | None = None
        self._scripts = Scripts(client)
        self._async_client_factory = async_client
        self.outages = outages
        self.stopping = threading.Event()
        #: Set when a stop begins (TERM): running jobs see ``interrupted()`` become true.
        self.interrupting = threading.Event()
        factory: FetcherFactory = fetcher_factory or ReliableFetcher
        #: The key layout (Sidekiq's, or the cluster layout).
        self.layout = app.keys
        # Only the built-in fetchers know the cluster layout; a custom one is refused there.
        layout_arg: dict[str, Any] = {}
        if fetcher_factory is None:
            layout_arg["layout"] = self.layout
        elif self.layout.cluster:
            raise ConfigError("a custom fetcher_factory is not available in cluster mode yet")
        self.fetcher = factory(
            client,
            self._scripts,
            identity,
            self.queues,
            block_timeout=settings.fetch_timeout,
            outages=outages,
            **layout_arg,
        )
        validate(self.fetcher)
        #: The ledger and gate of the capsule's fetchers; ``None`` for a custom fetcher without
        #: one, which then is never reconciled (see reconcile.py).
        self.reconciler: Reconciler | None = getattr(self.fetcher, "reconciler", None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._threads: list[threading.Thread] = []
        self._afetcher: AsyncReliableFetcher | None = None
        self._async_done = threading.Event()
        self.processor = Processor(
            app,
            settings,
            counters,
            self.interrupting.is_set,
            run_coroutine=self._run_coroutine,
            quieting=self.fetcher.quiet.is_set,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads and, if needed, the event loop with its worker tasks."""
        if self.async_concurrency:
            self._start_loop()
        for index in range(self.sync_threads):
            thread = threading.Thread(
                target=self._thread_main, name=f"henchman-{self.name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def begin_stop(self) -> None:
        """A stop has begun: stop fetching and tell running jobs they are interrupted."""
        self.quiet()
        self.interrupting.set()

    def quiet(self) -> None:
        """Stop fetching; running (and already fetched) jobs finish."""
        self.fetcher.quiet.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The capsule's event loop, if it has started one."""
        return self._loop

    @property
    def busy(self) -> int:
        """Jobs running now."""
        return len(self.processor.work)

    def idle(self) -> bool:
        """True once no worker is running or holding a job (after :meth:`quiet`)."""
        threads_done = all(not t.is_alive() for t in self._threads)
        async_done = not self.async_concurrency or self._async_done.is_set()
        return threads_done and async_done

    def stop(self) -> int:
        """Mark the capsule stopping and push unfinished jobs back to the head of their queues.

        Returns how many jobs were requeued. Safe to call while jobs still run: their later
        acknowledgement finds nothing to remove and records nothing (``ack.lua``).
        """
        self.stopping.set()
        self.begin_stop()
        # No fetch may be in flight during the final requeue, or a BLMOVE could take a job
        # after it and strand it in a working list until orphan recovery.
        self.fetcher.wait_for_fetch(self.settings.fetch_timeout + 1)
        if self._afetcher is not None:
            self._afetcher.drop_buffered()
            deadline = time.monotonic() + self.settings.fetch_timeout + 1
            while self._afetcher.fetching and time.monotonic() < deadline:
                time.sleep(0.01)
        # Finished jobs must be acknowledged before the requeue, or they would run again.
        call_until_done(self.flush_acks, self.outages, lambda: True, proves=False)
        moved = call_until_done(self.fetcher.requeue_all, self.outages, lambda: True)
        self._stop_loop()
        return moved or 0

    def _stop_loop(self) -> None:
        """Cancel the async workers (their jobs were requeued), close the async client and the
        loop. A job that blocks its loop leaves the thread behind; the process exit ends it."""
        loop, thread = self._loop, self._loop_thread
        if loop is None or thread is None or loop.is_closed():
            return
        if loop.is_running():
            shutdown = asyncio.run_coroutine_threadsafe(self._cancel_async_workers(), loop)
            try:
                shutdown.result(timeout=5)
            except Exception:
                log.warning("async workers did not stop within 5 s")
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

    async def _cancel_async_workers(self) -> None:
        task = self._main_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def has_pending_acks(self) -> bool:
        """Whether finished jobs wait for their acknowledgement to be sent."""
        return self.fetcher.has_pending_acks() or bool(self._afetcher and self._afetcher.acks)

    def flush_acks(self) -> int:
        """Send every pending acknowledgement (sync and async workers) now."""
        sent = self.fetcher.flush_acks()
        if self._afetcher is not None:
            ledger = self.reconciler.ledger if self.reconciler is not None else None
            sent += send_acks(self._redis, self._afetcher.acks, self._scripts, ledger)
        return sent

    def reconcile(self) -> int:
        """Give back jobs in the working lists that no worker holds (a fetch whose reply was
        lost ran late on the server); return how many. Called at every heartbeat."""
        if self.reconciler is None or self.stopping.is_set():
            return 0
        moved = self.reconciler.reconcile(
            self._redis,
            self._scripts,
            self.fetcher.working,
            timeout=self.settings.fetch_timeout + 1,
            layout=self.layout,
        )
        return moved or 0

    # --- sync workers ---------------------------------------------------------------------------

    def _thread_main(self) -> None:
        fetcher = self.fetcher
        while True:
            unit = fetcher.take()
            if unit is None:
                if fetcher.quiet.is_set():
                    return
                continue
            write = self.processor.run(unit)
            if write.wrap is not None and write.ack_only:  # its other steps first, then the ack
                if not self._wrap_first(write):
                    continue  # stopping in an outage: the job stays in its working list
                fetcher.acknowledge_later(unit)
            elif write.ack_only:
                fetcher.acknowledge_later(unit)
            elif write.deferrable and getattr(fetcher, "defers_writes", False):
                fetcher.acknowledge_later(deferred(unit, write))
            else:
                self._finish(unit, write)

    def _finish(self, unit: UnitOfWork, write: Write) -> None:
        done = call_until_done(lambda: self._send(write), self.outages, self.stopping.is_set)
        if done is not None:
            self._release(unit)

    def _wrap_first(self, write: Write) -> bool:
        """Run the steps of other slots that go with an acknowledgement that rides the next fetch
        (:attr:`Write.wrap`; the ack itself is sent later); False if stopping cut them off."""
        done = call_until_done(
            lambda: write.wrap.send(self._redis, lambda: True), self.outages, self.stopping.is_set
        )
        return done is not None

    def _release(self, unit: UnitOfWork) -> None:
        """Redis confirmed the job's final write: it leaves the ledger."""
        if self.reconciler is not None:
            self.reconciler.ledger.discard([unit])

    def _send(self, write: Write) -> Any:
        """The write's script, after its ``before`` calls in the same pipeline if it has any."""
        if write.wrap is not None:
            return write.wrap.send(self._redis, lambda: self._send(replace(write, wrap=None)))
        if not write.before:
            return self._scripts(write.script, write.keys, write.args)
        pipe = script_pipeline(self._redis)  # serial on a cluster client: no EVALSHA pipelines
        calls = [*((c.script, c.keys, c.args) for c in write.before),
                 (write.script, write.keys, write.args)]  # fmt: skip
        for call in calls:
            self._scripts.queue(pipe, *call)
        replies = self._scripts.execute(pipe, list(calls))
        return last_reply(replies)

    # --- async workers --------------------------------------------------------------------------

    def _run_coroutine(self, coro: Any) -> Any:
        if self._loop is None:
            self._start_loop(workers=False)
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _start_loop(self, *, workers: bool = True) -> None:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            if workers:
                self._main_task = loop.create_task(self._async_main())
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                self._async_done.set()
                try:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()

        self._loop_thread = threading.Thread(
            target=main, name=f"henchman-{self.name}-loop", daemon=True
        )
        self._loop_thread.start()
        ready.wait(5)

    async def _async_main(self) -> None:
        client = self._async_client_factory()
        self._aredis = client
        scripts = AsyncScripts(client)
        self._afetcher = AsyncReliableFetcher(
            client,
            scripts,
            self.identity,
            self.queues,
            block_timeout=self.settings.fetch_timeout,
            outages=self.outages,
            is_quiet=self.fetcher.quiet.is_set,
            acks=getattr(self.fetcher, "pending_acks", None),
            reconciler=self.reconciler,
            layout=self.layout,
        )
        try:
            await asyncio.gather(
                *(self._async_worker(scripts) for _ in range(self.async_concurrency))
            )
        finally:
            await client.aclose()
            self._async_done.set()

    async def _async_worker(self, scripts: AsyncScripts) -> None:
        assert self._afetcher is not None
        while True:
            unit = await self._afetcher.take()
            if unit is None:
                if self.fetcher.quiet.is_set():
                    return
                continue
            write = await self.processor.arun(unit)
            if write is None:  # a sync job: the worker threads run it (it stays in its list)
                await asyncio.wrap_future(self.fetcher.hand_over(unit))
            elif write.wrap is not None and write.ack_only:  # its other steps first, then the ack
                if await self._awrap_first(write):
                    self._afetcher.acks.append(unit)
            elif write.ack_only:
                self._afetcher.acks.append(unit)
            elif write.deferrable and getattr(self.fetcher, "defers_writes", False):
                self._afetcher.acks.append(deferred(unit, write))
            else:
                await self._afinish(scripts, unit, write)

    async def _awrap_first(self, write: Write) -> bool:
        """Asyncio twin of :meth:`_wrap_first`."""
        done = await acall_until_done(
            lambda: write.wrap.asend(self._aredis, _atrue), self.outages, self.stopping.is_set
        )
        return done is not None

    async def _afinish(self, scripts: AsyncScripts, unit: UnitOfWork, write: Write) -> None:
        done = await acall_until_done(
            lambda: self._asend(scripts, write), self.outages, self.stopping.is_set
        )
        if done is not None:
            self._release(unit)

    async def _asend(self, scripts: AsyncScripts, write: Write) -> Any:
        """Asyncio twin of :meth:`_send`."""
        if write.wrap is not None:
            bare = replace(write, wrap=None)
            return await write.wrap.asend(self._aredis, lambda: self._asend(scripts, bare))
        if not write.before:
            return await scripts(write.script, write.keys, write.args)
        assert self._aredis is not None
        pipe = async_script_pipeline(self._aredis)
        calls = [*((c.script, c.keys, c.args) for c in write.before),
                 (write.script, write.keys, write.args)]  # fmt: skip
        for call in calls:
            scripts.queue(pipe, *call)
        replies = await scripts.execute(pipe, list(calls))
        return last_reply(replies)
