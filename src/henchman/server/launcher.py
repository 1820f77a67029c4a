"""The launcher: one worker process's owner of capsules and background loops.

Lifecycle::

    start()  -> startup checks, register working lists, first heartbeat, orphan check,
                capsules start, housekeeping thread starts (heartbeat, poller, recovery)
    quiet()  -> capsules stop fetching; the heartbeat shows quiet
    drain()  -> quiet, and stop once every running job has finished, with no deadline (USR2:
                the old process's half of a rolling restart)
    stop()   -> quiet, wait up to ``timeout`` s for running jobs, push every job still running
                back to the head of its queue (no retry used), clear the heartbeat, exit

The launcher reacts to requests (``TSTP``, ``TERM``, ``INT``, ``TTIN``, ``USR2``) from signal
handlers or from ``<identity>-signals`` through one queue, processed by :meth:`run` on the
calling thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from henchman.batches.outbox import OutboxSweeper
from henchman.composition import check_settings as check_composition
from henchman.periodic.service import PeriodicService
from henchman.redis.connection import Connector
from henchman.redis.scripts import Scripts
from henchman.server import signals, startup
from henchman.server.capsule import Capsule
from henchman.server.capsule_report import capsule_info, describe, queue_text
from henchman.server.cluster_check import refuse_untaggable_queues
from henchman.server.heap import freeze_startup_objects
from henchman.server.heartbeat import Heartbeat, info, new_identity
from henchman.server.outage import TRANSIENT, OutageLog
from henchman.server.poller import Poller, next_wait
from henchman.server.queue_list import PAUSE_REFRESH, PausedQueues
from henchman.server.recovery import (
    OrphanRecovery,
    register_working_lists,
    registry_entries,
    unregister_working_lists,
)
from henchman.server.stats import Counters

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aredis

    from henchman.app import Henchman
    from henchman.config import QueueSpec, Settings
    from henchman.server.placement import Placement
    from henchman.shards.worker import ShardWorkers

log = logging.getLogger("henchman")

T = TypeVar("T")


class Launcher:
    """Runs one worker process (or an embedded worker inside another process)."""

    def __init__(
        self,
        app: Henchman,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        placement: Placement | None = None,
        freeze_heap: bool = False,
    ) -> None:
        from henchman.version import __version__

        self.app = app
        self.settings = settings
        self.version = __version__
        self.clock = clock
        self.connector = Connector(settings)
        self.identity = new_identity(os.urandom(6).hex())
        self.counters = Counters()
        self.outages = OutageLog()
        self.requests = signals.Requests()
        self.quiet_event = threading.Event()
        self.done = threading.Event()
        self._rng = random.Random()
        self._housekeeper: threading.Thread | None = None
        self._housekeeping_done = threading.Event()
        self._stop_lock = threading.Lock()
        #: True while :meth:`run` serves requests; otherwise remote signals are acted on directly.
        self._serving = False
        self.capsules: list[Capsule] = []
        #: The per-shard parts of a worker whose queues live on several servers (``shards``).
        self.shards: ShardWorkers | None = None
        #: The ``paused`` set as last read; every capsule's fetcher leaves those queues alone.
        self.paused = PausedQueues()
        #: CPU placement of this process (``henchman run`` only; an embedded worker has none).
        self.placement = placement
        #: Freeze the start-up objects before the first job (``henchman run`` only; see heap.py).
        self.freeze_heap = freeze_heap
        #: Called after every heartbeat with whether it succeeded (health endpoint, supervisor,
        #: systemd watchdog).
        self.on_beat: list[Callable[[bool], None]] = []
        #: Called once when a graceful stop begins.
        self.on_stop: list[Callable[[], None]] = []
        self._draining = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the server, register, and start working (returns once workers run)."""
        settings = self.settings
        check_composition(settings)
        refuse_untaggable_queues(self.app, settings)
        client = self.connector.check()
        self.redis = client
        self.scripts = Scripts(client)
        # Leader election and periodic jobs (schedules validated here: ConfigError, exit 2).
        self.periodic = PeriodicService.for_worker(self.app, settings, client, self.identity)
        _ = self.app.keyring  # bad encryption keys: one-line ConfigError before any job runs
        prefix = "capsule default: " if settings.capsules else ""
        startup.check_server(
            client,
            embedded=settings.redis_url is None,
            version=self.version,
            queues=queue_text(settings.queues),
            concurrency=f"{prefix}concurrency {settings.concurrency} threads, "
            f"{settings.async_concurrency} async",
        )
        if self.connector.cluster:
            startup.log_cluster_mode(client)
        if settings.shards:  # queues on other servers: a capsule per capsule and shard
            from henchman.shards.worker import ShardWorkers

            self.shards = ShardWorkers(self)
            self.capsules = self.shards.capsules
        else:
            self.capsules = [
                self._capsule("default", settings.queues, settings.concurrency,
                              settings.async_concurrency),
                *(self._capsule(c.name, c.queues, c.concurrency,
                                c.async_concurrency or settings.async_concurrency)
                  for c in settings.capsules),
            ]  # fmt: skip
        for capsule in self.capsules[1:]:
            log.info("%s", describe(capsule))
        served_here = self.shards.default_capsules if self.shards else self.capsules
        working = {k: v for c in served_here for k, v in c.fetcher.working.items()}
        register_working_lists(client, self.identity, working, self.app.keys)
        self.heartbeat = Heartbeat(
            client,
            self.identity,
            info(
                self.identity,
                started_at=self.clock(),
                tag=settings.tag,
                labels=list(settings.labels),
                version=self.version,
                **capsule_info(self.capsules),
            ),
            self.counters,
            ttl=settings.process_ttl,
            concurrency=sum(c.concurrency for c in self.capsules),
            working_lists=registry_entries(self.identity, working),
            clock=self.clock,
            layout=self.app.keys,
        )
        self.poller = Poller(client, self.scripts, self.clock, self.app.keys)
        # Cluster layout: batch outboxes a crash left undelivered (a no-op in Sidekiq's layout).
        self.outboxes = OutboxSweeper(client, self.app.keys, self.clock, self.scripts)
        self.recovery = OrphanRecovery(
            client,
            self.scripts,
            self.identity,
            poison_limit=settings.poison_pill_limit,
            dead_max_jobs=settings.dead_max_jobs,
            dead_timeout=settings.dead_timeout,
            clock=self.clock,
            layout=self.app.keys,
        )
        self._beat()
        self._local(self._refresh_paused)
        self._guard(self.recovery.run_once)
        if self.freeze_heap:  # everything is built and no job has run: see heap.py
            log.debug("froze %d start-up objects", freeze_startup_objects())
        if self.shards is not None:
            self.shards.start()
        for capsule in self.capsules:
            capsule.start()
        if self.placement is not None:
            self._local(self.placement.start)
            if self.placement.adaptive:
                from henchman.server.job_times import JobTimes  # only under cpu_affinity auto

                if "JobTimes" not in self.app.middleware.names():
                    self.app.middleware.add(JobTimes(self.placement))
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="henchman-housekeeping", daemon=True
        )
        self._housekeeper.start()
        self.periodic.start()
        log.info("worker %s started", self.identity)

    def _capsule(
        self,
        name: str,
        queues: Sequence[QueueSpec],
        concurrency: int,
        async_concurrency: int,
        *,
        client: redis.Redis | None = None,
        async_client: Callable[[], aredis.Redis] | None = None,
        outages: OutageLog | None = None,
    ) -> Capsule:
        """A capsule on the default server, or on ``client``'s (a shard's; see shards/)."""
        return Capsule(
            name,
            self.app,
            self.settings,
            self.identity,
            queues,
            client or self.redis,
            async_client or self.connector.asyncio,
            self.counters,
            outages or self.outages,
            concurrency=concurrency,
            async_concurrency=async_concurrency,
            fetcher_factory=self.app.fetcher_factory,
            paused=self.paused,
        )

    def run(self, install_signals: bool = True) -> None:
        """Start, then serve requests until stopped (blocks the calling thread)."""
        if install_signals:
            signals.install(self.requests)
        self.start()
        self._serving = True
        while not self.done.is_set():
            try:
                request = self.requests.get(timeout=0.1 if self._draining.is_set() else 0.5)
            except queue.Empty:
                if self._draining.is_set() and all(c.idle() for c in self.capsules):
                    self.stop()
                continue
            self.handle(request)

    def handle(self, request: str) -> None:
        """Act on one signal name."""
        if request == "TSTP":
            self.quiet()
        elif request in ("TERM", "INT"):
            self.stop()
        elif request == "TTIN":
            signals.dump_stacks([c.loop for c in self.capsules if c.loop is not None])
        elif request == "USR2":
            self.drain()
        else:
            log.warning("ignoring unknown signal request %r", request)

    def quiet(self) -> None:
        """Stop fetching new jobs; running ones finish (TSTP)."""
        if not self.quiet_event.is_set():
            log.info("quieting: no new jobs will be fetched")
            self.quiet_event.set()
            for capsule in self.capsules:
                capsule.quiet()

    def drain(self) -> None:
        """Quiet, then stop once the running jobs finish, however long they take (USR2).

        Served by :meth:`run`'s loop; a TERM that arrives meanwhile still stops within
        ``timeout``."""
        if not self._draining.is_set():
            log.info("draining: no new jobs; exiting once %d running job(s) finish", self.busy)
            self.quiet()
            self._draining.set()

    def stop(self, timeout: float | None = None) -> None:
        """Graceful stop: quiet, wait up to ``timeout`` (default: the setting), requeue what
        still runs, clean up."""
        with self._stop_lock:  # a signal and a remote TERM may both ask
            if self.done.is_set():
                return
            self._stop(self.settings.timeout if timeout is None else timeout)

    def _stop(self, timeout: float) -> None:
        for listener in self.on_stop:
            self._local(listener)
        self.quiet()
        self.periodic.stop()  # steps down at once, so another process leads without waiting
        for capsule in self.capsules:
            capsule.begin_stop()
        deadline = time.monotonic() + timeout
        log.info("stopping: waiting up to %.0f s for %d running job(s)", timeout, self.busy)
        while time.monotonic() < deadline and not all(c.idle() for c in self.capsules):
            time.sleep(0.02)
        still_running = self.busy
        requeued = sum(capsule.stop() for capsule in self.capsules)
        if still_running:
            log.warning(
                "timeout reached: %d job(s) still running; %d job(s) pushed back to the "
                "head of their queues",
                still_running,
                requeued,
            )
        # No heartbeat, poll or recovery step may run after this point, or it could re-add
        # this process to `processes` after its heartbeat was cleared.
        self._housekeeping_done.set()
        housekeeper = self._housekeeper
        if housekeeper is not None and housekeeper is not threading.current_thread():
            housekeeper.join(self.settings.redis_timeout * 2)
        self._flush_middleware()
        self._guard(self.heartbeat.clear)
        self._guard(
            lambda: unregister_working_lists(
                self.redis,
                {k: v for c in self.capsules for k, v in c.fetcher.working.items()},
                self.app.keys,
            )
        )
        if self.shards is not None:
            self.shards.stop()
        self.done.set()
        self.redis.close()
        log.info("worker %s stopped", self.identity)

    @property
    def busy(self) -> int:
        """Jobs running now across capsules."""
        return sum(c.busy for c in self.capsules)

    # --- background loops -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        settings = self.settings
        now = time.monotonic()
        next_beat = now + settings.heartbeat_interval
        next_poll = now + next_wait(1, settings.poll_interval_average, self._rng) / 2
        next_recovery = now + settings.orphan_check_interval
        next_pause_check = now + PAUSE_REFRESH
        while not self._housekeeping_done.wait(min(0.1, settings.heartbeat_interval)):
            now = time.monotonic()
            if now >= next_beat:
                for capsule in self.capsules:  # safety net: acks normally ride on fetches
                    if capsule.has_pending_acks():
                        self._guard(capsule.flush_acks, proves=False)
                self._flush_middleware()
                self._beat()
                for capsule in self.capsules:  # jobs a fetch with a lost reply moved
                    self._guard(capsule.reconcile, proves=False)
                if self.shards is not None:
                    self.shards.beat()
                next_beat = now + settings.heartbeat_interval
            if now >= next_poll and not self.quiet_event.is_set():
                self._guard(self.poller.enqueue_due)
                self._guard(self.outboxes.sweep, proves=False)
                if self.shards is not None:
                    self.shards.poll()
                count = self._guard(self.poller.process_count) or 1
                next_poll = now + next_wait(count, settings.poll_interval_average, self._rng)
            if now >= next_pause_check:
                self._local(self._refresh_paused)
                next_pause_check = now + PAUSE_REFRESH
            if now >= next_recovery:
                self._guard(self.recovery.run_once)
                if self.shards is not None:
                    self.shards.recover()
                next_recovery = now + settings.orphan_check_interval
            if self.placement is not None:
                self._local(self.placement.maybe_tick)
                self._local(self._report_running_jobs)

    def _refresh_paused(self) -> None:
        """Read the ``paused`` set. During an outage the last reading stays in force and nothing
        is logged: fetches fail then anyway and report the outage themselves, and a step this
        frequent would otherwise log a fresh outage for every stale pooled connection."""
        with contextlib.suppress(*TRANSIENT):
            self.paused.refresh(self.redis, self.app.keys)

    def _report_running_jobs(self) -> None:
        """Tell CPU placement when the oldest running job started (a long one unpins); only a
        pinned process has anything to let go of, so the others skip reading the jobs."""
        assert self.placement is not None
        if not self.placement.pinned:
            return
        starts = [v[2] for c in self.capsules for v in list(c.processor.work.values())]
        self.placement.running_since(min(starts, default=None), self.clock())

    def _flush_middleware(self) -> None:
        """Let middleware that buffers data in memory (e.g. metrics) write it: every
        entry with a ``flush(redis)`` method is called once per heartbeat and at stop.

        A flush that returns says nothing about Redis (it may have had nothing to write), so it
        never ends an outage in the log; a flush that fails reports one."""
        for entry in self.app.middleware:
            flush = getattr(entry, "flush", None)
            if callable(flush):
                self._guard(functools.partial(flush, self.redis), proves=False)

    def _beat(self) -> None:
        outcome = self._guard(
            lambda: (
                self.heartbeat.beat(
                    busy=self.busy,
                    quiet=self.quiet_event.is_set(),
                    work={k: v for c in self.capsules for k, v in c.processor.work.items()},
                    placement=self.placement.describe() if self.placement is not None else "off",
                ),
            )
        )
        for listener in self.on_beat:
            self._local(functools.partial(listener, outcome is not None))
        signal = outcome[0] if outcome is not None else None
        if signal:
            log.info("received remote signal %s", signal)
            if self._serving:
                self.requests.put(signal)
            else:  # embedded (start() without run()): act here, off the housekeeping thread
                threading.Thread(target=self.handle, args=(signal,), daemon=True).start()

    def _local(self, fn: Callable[[], None]) -> None:
        """Run a background step that does not touch Redis (so it says nothing about outages)."""
        try:
            fn()
        except Exception:
            log.exception("background step %s failed", getattr(fn, "__name__", fn))

    def _guard(self, fn: Callable[[], T], *, proves: bool = True) -> T | None:
        """Run a background step; Redis outages are logged once, other errors logged fully.
        ``proves=False`` for a step that may have nothing to send to Redis: its success does
        not end an outage."""
        started = self.outages.now()
        try:
            result = fn()
        except TRANSIENT as exc:
            self.outages.failed(exc, started)
            return None
        except Exception:
            log.exception("background step %s failed", getattr(fn, "__name__", fn))
            return None
        if proves:
            self.outages.succeeded(started)
        return result
