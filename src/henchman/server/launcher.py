"""The launcher: one worker process's owner of capsules and background loops (SPEC §4.1).

Lifecycle::

    start()  -> startup checks, register working lists, first heartbeat, orphan check,
                capsules start, housekeeping thread starts (heartbeat, poller, recovery)
    quiet()  -> capsules stop fetching; the heartbeat shows quiet
    stop()   -> quiet, wait up to ``timeout`` s for running jobs, push every job still running
                back to the head of its queue (no retry used), clear the heartbeat, exit

The launcher reacts to requests (``TSTP``, ``TERM``, ``INT``, ``TTIN``) from signal handlers or
from ``<identity>-signals`` through one queue, processed by :meth:`run` on the calling thread.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from henchman.redis.connection import Connector
from henchman.redis.scripts import Scripts
from henchman.server import signals, startup
from henchman.server.capsule import Capsule
from henchman.server.heartbeat import Heartbeat, info, new_identity
from henchman.server.outage import TRANSIENT, OutageLog
from henchman.server.poller import Poller, next_wait
from henchman.server.recovery import (
    OrphanRecovery,
    register_working_lists,
    registry_entries,
    unregister_working_lists,
)
from henchman.server.stats import Counters

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings
    from henchman.server.placement import Placement

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
    ) -> None:
        from henchman import __version__

        self.app = app
        self.settings = settings
        self.version = __version__
        self.clock = clock
        self.connector = Connector(settings)
        self.identity = new_identity(os.urandom(6).hex())
        self.counters = Counters()
        self.outages = OutageLog()
        self.requests: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.quiet_event = threading.Event()
        self.done = threading.Event()
        self._rng = random.Random()
        self._housekeeper: threading.Thread | None = None
        self._housekeeping_done = threading.Event()
        self._stop_lock = threading.Lock()
        #: True while :meth:`run` serves requests; otherwise remote signals are acted on directly.
        self._serving = False
        self.capsules: list[Capsule] = []
        #: CPU placement of this process (``henchman run`` only; an embedded worker has none).
        self.placement = placement

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Check the server, register, and start working (returns once workers run)."""
        settings = self.settings
        client = self.connector.check()
        self.redis = client
        self.scripts = Scripts(client)
        queues = ", ".join(
            f"{q.name}{',' + str(q.weight) if q.weight else ''}" for q in settings.queues
        )
        startup.check_server(
            client,
            embedded=settings.redis_url is None,
            version=self.version,
            queues=queues,
            concurrency=f"concurrency {settings.concurrency} threads, "
            f"{settings.async_concurrency} async",
        )
        capsule = Capsule(
            "default",
            self.app,
            settings,
            self.identity,
            settings.queues,
            client,
            self.connector.asyncio,
            self.counters,
            self.outages,
            concurrency=settings.concurrency,
            async_concurrency=settings.async_concurrency,
            fetcher_factory=self.app.fetcher_factory,
        )
        self.capsules = [capsule]
        register_working_lists(client, self.identity, capsule.fetcher.working)
        self.heartbeat = Heartbeat(
            client,
            self.identity,
            info(
                self.identity,
                started_at=self.clock(),
                tag=settings.tag,
                concurrency=settings.concurrency,
                queues=[q.name for q in settings.queues],
                weights=[{q.name: q.weight} for q in settings.queues],
                labels=list(settings.labels),
                version=self.version,
            ),
            self.counters,
            ttl=settings.process_ttl,
            concurrency=settings.concurrency,
            working_lists=registry_entries(self.identity, capsule.fetcher.working),
            clock=self.clock,
        )
        self.poller = Poller(client, self.scripts, self.clock)
        self.recovery = OrphanRecovery(
            client,
            self.scripts,
            self.identity,
            poison_limit=settings.poison_pill_limit,
            dead_max_jobs=settings.dead_max_jobs,
            dead_timeout=settings.dead_timeout,
            clock=self.clock,
        )
        self._beat()
        self._guard(self.recovery.run_once)
        for capsule in self.capsules:
            capsule.start()
        if self.placement is not None:
            self._local(self.placement.start)
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="henchman-housekeeping", daemon=True
        )
        self._housekeeper.start()
        log.info("worker %s started", self.identity)

    def run(self, install_signals: bool = True) -> None:
        """Start, then serve requests until stopped (blocks the calling thread)."""
        if install_signals:
            signals.install(self.requests)
        self.start()
        self._serving = True
        while not self.done.is_set():
            try:
                request = self.requests.get(timeout=0.5)
            except queue.Empty:
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
        else:
            log.warning("ignoring unknown signal request %r", request)

    def quiet(self) -> None:
        """Stop fetching new jobs; running ones finish (TSTP)."""
        if not self.quiet_event.is_set():
            log.info("quieting: no new jobs will be fetched")
            self.quiet_event.set()
            for capsule in self.capsules:
                capsule.quiet()

    def stop(self) -> None:
        """Graceful stop: quiet, wait up to ``timeout``, requeue what still runs, clean up."""
        with self._stop_lock:  # a signal and a remote TERM may both ask
            if self.done.is_set():
                return
            self._stop()

    def _stop(self) -> None:
        self.quiet()
        for capsule in self.capsules:
            capsule.begin_stop()
        deadline = time.monotonic() + self.settings.timeout
        log.info(
            "stopping: waiting up to %.0f s for %d running job(s)", self.settings.timeout, self.busy
        )
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
                self.redis, {k: v for c in self.capsules for k, v in c.fetcher.working.items()}
            )
        )
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
        while not self._housekeeping_done.wait(min(0.1, settings.heartbeat_interval)):
            now = time.monotonic()
            if now >= next_beat:
                for capsule in self.capsules:  # safety net: acks normally ride on fetches
                    if capsule.has_pending_acks():
                        self._guard(capsule.flush_acks)
                self._flush_middleware()
                self._beat()
                next_beat = now + settings.heartbeat_interval
            if now >= next_poll and not self.quiet_event.is_set():
                self._guard(self.poller.enqueue_due)
                count = self._guard(self.poller.process_count) or 1
                next_poll = now + next_wait(count, settings.poll_interval_average, self._rng)
            if now >= next_recovery:
                self._guard(self.recovery.run_once)
                next_recovery = now + settings.orphan_check_interval
            if self.placement is not None:
                self._local(self.placement.maybe_tick)

    def _flush_middleware(self) -> None:
        """Let middleware that buffers data in memory (e.g. metrics, SPEC §4.5) write it: every
        entry with a ``flush(redis)`` method is called once per heartbeat and at stop."""
        for entry in self.app.middleware:
            flush = getattr(entry, "flush", None)
            if callable(flush):
                self._guard(functools.partial(flush, self.redis))

    def _beat(self) -> None:
        signal = self._guard(
            lambda: self.heartbeat.beat(
                busy=self.busy,
                quiet=self.quiet_event.is_set(),
                work={k: v for c in self.capsules for k, v in c.processor.work.items()},
                placement=self.placement.describe() if self.placement is not None else "off",
            )
        )
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

    def _guard(self, fn: Callable[[], T]) -> T | None:
        """Run a background step; Redis outages are logged once, other errors logged fully."""
        try:
            result = fn()
        except TRANSIENT as exc:
            self.outages.failed(exc)
            return None
        except Exception:
            log.exception("background step %s failed", getattr(fn, "__name__", fn))
            return None
        self.outages.succeeded()
        return result
