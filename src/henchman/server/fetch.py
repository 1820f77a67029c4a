"""Reliable fetch: the one fetcher, behind a unit-of-work seam.

A fetched job is atomically moved from ``queue:<q>`` into the per-process working list
``henchman:working:<identity>:<q>`` (``fetch.lua``, or ``BLMOVE`` when every queue was empty) and
stays there until it is acknowledged: finished (``LREM``) or its retry/dead record written
(``ack.lua``, which removes it in the same step). A crash at any point leaves the job in its
queue or in a working list, from which a shutdown (``requeue.lua``) or orphan recovery
(``recover.lua``) puts it back. There is no non-reliable mode to switch to.

One round trip may take several jobs, but never more than the capsule's free slots: the thread
that fetches asks for as many jobs as there are idle workers, and hands the surplus to them
through an in-process buffer (the buffered jobs are already in the working list).

Every job a fetch returns is entered in the capsule's ledger until Redis confirms its end, and
fetches pass through a gate, so that :mod:`henchman.server.reconcile` can give back jobs that a
fetch with a lost reply moved into the working list (a hung or partitioned Redis).

When every queue is empty, one worker blocks in ``BLMOVE`` on the first queue of the current
order while the others wait for it, so an idle worker starts a job about a millisecond after it
is pushed. With several queues the block is short (``MULTI_QUEUE_BLOCK``) so that a job on any
queue is noticed quickly; the order is redrawn on each round.

Each round fetches from the capsule's unpaused queues (:mod:`henchman.server.queue_list`); when
every queue is paused the round waits instead of fetching, so a paused worker does not spin.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import redis

from henchman import keys
from henchman.config import QueueSpec
from henchman.errors import ConfigError
from henchman.redis.cluster_client import is_cluster_client
from henchman.redis.cluster_lanes import ClusterLanes
from henchman.redis.lane import Lane
from henchman.redis.scripts import ScriptCall, Scripts
from henchman.redis.serial import script_pipeline
from henchman.server import queue_order
from henchman.server.cluster_fetch import ByMaster, fetch_round, give_back_calls
from henchman.server.outage import TRANSIENT, OutageLog, backoff_delay
from henchman.server.pacing import Pacing
from henchman.server.queue_list import ALL_PAUSED_WAIT, PAUSE_BLOCK, as_queue_list
from henchman.server.reconcile import Ledger, Reconciler

T = TypeVar("T")

log = logging.getLogger("henchman")

#: How often (s) idle threads look for jobs handed over by async workers (mixed apps only).
HANDOVER_POLL = 0.05
#: BLMOVE timeout (s) when a capsule serves more than one queue.
MULTI_QUEUE_BLOCK = 0.25


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    """One fetched job: its raw bytes, its queue, and the working list holding it until acked."""

    queue: str
    raw: bytes
    working_key: str
    #: A script that acknowledges this job in place of the plain ``LREM`` (e.g. ``batch_ack``,
    #: which also counts the job in its batch); sent, pipelined, with the next round trip.
    finish: ScriptCall | None = None


class Fetcher(Protocol):
    """The fetch seam. Every fetcher acknowledges: that is what makes it reliable.

    A fetched job must sit in ``working[queue]`` until :meth:`acknowledge` (the processor's
    ``ack.lua`` removes it from ``unit.working_key``); :meth:`requeue_all` gives back what is left.
    The simplest way to write one is to subclass :class:`ReliableFetcher`.
    """

    #: Must be ``True``: henchman refuses a fetcher that cannot acknowledge (see ``validate``).
    reliable: bool
    #: Queue name -> working-list key.
    working: dict[str, str]
    #: Set to stop fetching.
    quiet: threading.Event

    def take(self) -> UnitOfWork | None:
        """The next job, or ``None`` after a short wait with nothing to do or once quiet."""

    def requeue_all(self) -> int:
        """Put every unacknowledged job back at the head of its queue; return how many."""

    def wait_for_fetch(self, timeout: float) -> bool:
        """Block further fetches and wait until none is in flight."""

    def acknowledge_later(self, unit: UnitOfWork) -> None:
        """Acknowledge a finished job with the next round trip."""

    def flush_acks(self) -> int:
        """Send pending acknowledgements now; return how many."""

    def has_pending_acks(self) -> bool:
        """Whether acknowledgements wait for the next round trip."""

    def hand_over(self, unit: UnitOfWork) -> concurrent.futures.Future[None]:
        """Accept a fetched job for the worker threads (from the capsule's async workers); the
        future completes when a thread takes it (or it is dropped at a stop)."""


FetcherFactory = Callable[..., Fetcher]

_REQUIRED = (
    "take",
    "acknowledge_later",
    "flush_acks",
    "requeue_all",
    "wait_for_fetch",
)


def validate(fetcher: object) -> None:
    """Refuse, with a reason, a fetcher that would lose jobs on a crash."""
    name = type(fetcher).__qualname__
    missing = [m for m in _REQUIRED if not callable(getattr(fetcher, m, None))]
    if missing:
        raise ConfigError(
            f"fetcher {name} cannot acknowledge jobs (missing {', '.join(missing)}); henchman "
            "refuses fetchers that would lose a job when a worker crashes"
        )
    if getattr(fetcher, "reliable", False) is not True:
        raise ConfigError(
            f"fetcher {name} does not declare reliable = True: henchman only runs fetchers that "
            "keep each job in a working list until it is acknowledged"
        )
    if not isinstance(getattr(fetcher, "working", None), dict):
        raise ConfigError(f"fetcher {name} has no working lists ('working' mapping)")


def drain(pending: collections.deque[T]) -> list[T]:
    """Take everything queued in ``pending`` (safe against concurrent appends)."""
    taken = []
    while True:
        try:
            taken.append(pending.popleft())
        except IndexError:
            return taken


def fetch_args(idle: int, order: Sequence[str], acks: Sequence[UnitOfWork]) -> list[Any]:
    """ARGV for ``fetch.lua``: how many jobs to take, then (pair index, raw) per acknowledgement."""
    position = {name: index for index, name in enumerate(order, 1)}
    args: list[Any] = [max(idle, 1)]
    for unit in acks:
        if unit.finish is None:  # the others acknowledge through their own script
            args += [position[unit.queue], unit.raw]
    return args


def queue_acks(
    pipe: Any, acks: Sequence[UnitOfWork], scripts: Any = None
) -> list[tuple[str, list[str], list[Any]] | None]:
    """Add one ``LREM`` (or the unit's finishing script) per acknowledgement to a (sync or
    asyncio) pipeline; returns what :meth:`Scripts.execute` needs to redo a lost script."""
    calls: list[tuple[str, list[str], list[Any]] | None] = []
    for unit in acks:
        call = unit.finish
        if call is None or scripts is None:
            pipe.lrem(unit.working_key, 1, unit.raw)
            calls.append(None)
        else:
            scripts.queue(pipe, call.script, call.keys, call.args)
            calls.append((call.script, call.keys, call.args))
    return calls


def finishing(acks: Sequence[UnitOfWork]) -> list[UnitOfWork]:
    """The acknowledgements that go through their own script, not ``fetch.lua``'s ``LREM``."""
    return [unit for unit in acks if unit.finish is not None]


def queue_give_back(
    pipe: Any, units: Sequence[UnitOfWork], layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Add the commands that move fetched jobs from their working lists back to the head of
    their queues, first fetched at the very head (for a MULTI pipeline)."""
    for unit in reversed(units):
        pipe.lrem(unit.working_key, 1, unit.raw)
        pipe.rpush(layout.queue(unit.queue), unit.raw)


def send_acks(
    client: redis.Redis,
    pending: collections.deque[UnitOfWork],
    scripts: Scripts | None = None,
    ledger: Ledger | None = None,
) -> int:
    """LREM every pending acknowledgement (or run its finishing script) in one pipeline;
    requeue them on failure. Sent ones leave ``ledger``."""
    acks = drain(pending)
    if not acks:
        return 0
    pipe = script_pipeline(client)
    calls = queue_acks(pipe, acks, scripts)
    try:
        if scripts is None:
            pipe.execute()
        else:
            log_errors(scripts.execute(pipe, calls))
    except BaseException:
        pending.extendleft(reversed(acks))
        raise
    if ledger is not None:
        ledger.discard(acks)
    return len(acks)


def log_errors(replies: Sequence[Any]) -> None:
    """Log the error replies of finishing scripts. Such an error is a bug, not an outage:
    retrying would loop, so the job stays in its working list (requeued at the next stop)."""
    for reply in replies:
        if isinstance(reply, Exception):
            log.error("acknowledging a job failed: %s", reply)


def block_time(block_timeout: float, queue_count: int) -> float:
    """How long one BLMOVE may block: short with several queues (a job on any is noticed
    quickly), and never longer than :data:`PAUSE_BLOCK` (a pause is honoured within a second)."""
    return min(block_timeout, PAUSE_BLOCK if queue_count == 1 else MULTI_QUEUE_BLOCK)


def last_reply(replies: Sequence[Any]) -> Any:
    """The reply of the last call of a pipeline that first ran finishing scripts: their error
    replies are logged (:func:`log_errors`), an error of the last call is raised."""
    log_errors(replies[:-1])
    if isinstance(replies[-1], Exception):
        raise replies[-1]
    return replies[-1]


def working_keys(
    identity: str, queues: Sequence[QueueSpec], layout: keys.KeyLayout = keys.SIDEKIQ
) -> dict[str, str]:
    """Queue name -> working-list key for one process."""
    return {q.name: layout.working(identity, q.name) for q in queues}


def fetch_keys(
    order: Sequence[str], working: dict[str, str], layout: keys.KeyLayout = keys.SIDEKIQ
) -> list[str]:
    """KEYS for ``fetch.lua``: queue key and working key, pairwise, in fetch order."""
    out: list[str] = []
    for name in order:
        out += [layout.queue(name), working[name]]
    return out


def units_from_reply(
    reply: Sequence[Any], order: Sequence[str], working: dict[str, str]
) -> list[UnitOfWork]:
    """Turn ``fetch.lua``'s flat reply into units of work."""
    units = []
    for i in range(0, len(reply), 2):
        name = order[int(reply[i]) - 1]
        units.append(UnitOfWork(name, reply[i + 1], working[name]))
    return units


class ReliableFetcher:
    """Thread-safe reliable fetcher shared by the worker threads of one capsule."""

    reliable = True
    #: Sends units with a ``finish`` script pipelined with its next round trip.
    defers_writes = True

    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        identity: str,
        queues: Sequence[QueueSpec],
        *,
        block_timeout: float,
        outages: OutageLog,
        rng: random.Random | None = None,
        sleep: Callable[[float], bool] | None = None,
        reconciler: Reconciler | None = None,
        pacing: Pacing | None = None,
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._redis = client
        self._scripts = scripts
        self.layout = layout
        self._queues = as_queue_list(queues)
        #: The fetch's own connection: only the thread holding the fetch lock uses it.
        self._lane = Lane(client)
        #: In cluster mode, its held connection to each master (same rule as the lane).
        self._cluster_lanes = ClusterLanes(client) if is_cluster_client(client) else None
        #: In cluster mode, which master serves a queue and the acknowledgements held back.
        self._by_master = (
            ByMaster(self._cluster_lanes.node, weighted=not queue_order.is_strict(queues))
            if self._cluster_lanes
            else None
        )
        self.working = working_keys(identity, queues, layout)
        self._block = block_time(block_timeout, len(queues))
        self._outages = outages
        self._rng = rng or random.Random()
        self._buffer: collections.deque[UnitOfWork] = collections.deque()
        #: Jobs fetched by async workers for the threads, each with the future its worker awaits.
        self._handed: collections.deque[tuple[UnitOfWork, concurrent.futures.Future[None]]] = (
            collections.deque()
        )
        self._fetch_lock = threading.Lock()
        self._idle_lock = threading.Lock()
        self._idle = 0
        self._failures = 0
        #: Finished jobs whose acknowledgement rides on the next fetch (see acknowledge_later).
        self._acks: collections.deque[UnitOfWork] = collections.deque()
        self._blocking = False
        # How long a thread waits for the fetch lock before looking at the buffer again:
        # the block timeout until an async worker hands over a job, then HANDOVER_POLL.
        self._lock_wait = self._block
        self.quiet = threading.Event()
        self._sleep = sleep or self.quiet.wait
        #: The ledger and gate shared with the capsule's async fetcher (see reconcile.py).
        self.reconciler = reconciler or Reconciler()
        self._ledger = self.reconciler.ledger
        #: Which thread may take a round's surplus (short jobs stay on few threads: pacing.py).
        self._pacing = pacing or Pacing()

    def take(self) -> UnitOfWork | None:
        pacing = self._pacing
        pacing.asking()
        with self._idle_lock:
            self._idle += 1
        unit = None
        try:
            unit = self._take()
            return unit
        finally:
            with self._idle_lock:
                self._idle -= 1
            pacing.given(unit is not None)

    def _ready(self) -> UnitOfWork | None:
        """A job fetched already: handed over by an async worker, or the surplus of a batch."""
        if self._handed:  # checked first: raising IndexError on every take costs more
            try:
                unit, taken = self._handed.popleft()
            except IndexError:
                pass
            else:
                taken.set_result(None)
                return unit
        if not self._pacing.may_take() and not self.quiet.is_set():
            return None  # another thread's surplus of short jobs (quiet: every thread helps)
        try:
            unit = self._buffer.popleft()
        except IndexError:
            return None
        if not self._buffer:
            self._pacing.emptied()
        return unit

    def _take(self) -> UnitOfWork | None:
        while True:
            ready = self._ready()
            if ready is not None:
                return ready
            if self.quiet.is_set():
                return None
            if not self._fetch_lock.acquire(blocking=False):
                if self._blocking:
                    # The fetching thread is blocked in BLMOVE: send our acknowledgements
                    # ourselves rather than let them wait up to a block timeout.
                    self._flush_acks_safely()
                if not self._fetch_lock.acquire(timeout=self._lock_wait):
                    continue
            try:
                if self._nothing_to_fetch():
                    continue
                units = self._round()
                if self.reconciler.suspect and self._failures == 0:
                    self._reconcile_safely()  # Redis answers again after a failed fetch
                if units and self.quiet.is_set():
                    # Fetched while the process went quiet (a BLMOVE cannot be interrupted):
                    # give the jobs straight back so a stop never strands them.
                    self._give_back_safely(units)
                    return None
            finally:
                self._fetch_lock.release()
            if units is None:
                return None
            if units:
                self._pacing.new_round(len(units) > 1)
                self._buffer.extend(units[1:])
                return units[0]

    def _nothing_to_fetch(self) -> bool:
        """Holding the fetch lock: whether jobs are ready already (or the process is quiet).
        Another thread's surplus of short jobs is left to it for a moment (pacing.py)."""
        if self._handed or self.quiet.is_set():
            return True
        if self._buffer:
            self._pacing.wait_for_owner(self._buffer, self.quiet.is_set)
        return bool(self._buffer or self._handed or self.quiet.is_set())

    def _give_back_safely(self, units: list[UnitOfWork]) -> None:
        try:
            if self.layout.cluster:  # one atomic step per job, in its queue's slot
                for call in give_back_calls(units, self.layout):
                    self._scripts(*call)
            else:
                pipe = self._redis.pipeline(transaction=True)
                queue_give_back(pipe, units)
                pipe.execute()
        except TRANSIENT as exc:
            self._outages.failed(exc)  # a later reconcile (or the stop) gives them back
        self._ledger.discard(units)

    def reconcile(self) -> int | None:
        """Give back jobs in this process's working lists that it does not hold (see
        :mod:`henchman.server.reconcile`); ``None`` if it could not run now."""
        return self.reconciler.reconcile(
            self._redis, self._scripts, self.working, timeout=self._block + 1, layout=self.layout
        )

    def _reconcile_safely(self) -> None:
        try:
            self.reconcile()
        except TRANSIENT as exc:
            self._outages.failed(exc)

    def hand_over(self, unit: UnitOfWork) -> concurrent.futures.Future[None]:
        """Accept a job fetched by the capsule's async workers that only a thread can run.

        The returned future completes when a thread takes the job; the async worker waits for
        it before fetching again, so handed-over jobs never pile up beyond the capsule's slots
        (each waits in one async worker's slot). Threads waiting for the fetch lock check for
        handed-over jobs every :data:`HANDOVER_POLL` s.
        """
        taken: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._handed.append((unit, taken))
        self._lock_wait = HANDOVER_POLL
        return taken

    def wait_for_fetch(self, timeout: float) -> bool:
        """Block further fetches and wait until none is in flight (before a final requeue)."""
        return self._fetch_lock.acquire(timeout=timeout)

    def _round(self) -> list[UnitOfWork] | None:
        """One fetch round: batch fetch, else block on one queue. ``None`` = nothing, go idle."""
        queues = self._queues.active()
        if not queues:  # every queue paused: wait, do not spin
            self._sleep(ALL_PAUSED_WAIT)
            return None
        order = queue_order.order(queues, self._rng)
        started = self._outages.now()
        gate = self.reconciler.gate
        try:
            gate.enter()
            try:
                units = self._fetch(order)
            finally:
                gate.leave()
        except TRANSIENT as exc:
            self.reconciler.fetch_failed()
            self._outages.failed(exc, started)
            self._sleep(backoff_delay(self._failures))
            self._failures += 1
            return []
        self._failures = 0
        self._outages.succeeded(started)
        return units if units else None

    def _fetch(self, order: list[str]) -> list[UnitOfWork]:
        """The round trips of one round (inside the gate): every job returned enters the ledger
        before the gate opens; acknowledgements carried leave it once Redis confirmed them."""
        acks = drain(self._acks)
        try:
            reply = self._fetch_call(order, acks)
        except BaseException:
            self._acks.extendleft(reversed(acks))
            raise
        if self._by_master is not None:  # cluster: some may wait for their master's round
            acks = self._by_master.take_sent()
        units = units_from_reply(reply, order, self.working)
        if units:
            self._ledger.add(units)
        if acks:
            self._ledger.discard(acks)
        if not units and not self.quiet.is_set():
            first = order[0]
            self._blocking = True
            try:
                raw = self._redis.blmove(
                    self.layout.queue(first),
                    self.working[first],
                    cast(int, self._block),
                    "RIGHT",
                    "LEFT",
                )
            finally:
                self._blocking = False
            if raw is not None:
                units = [UnitOfWork(first, cast(bytes, raw), self.working[first])]
                self._ledger.add(units)
        return units

    def _fetch_call(self, order: Sequence[str], acks: list[UnitOfWork]) -> Any:
        """``fetch.lua``, after the finishing scripts of ``acks`` in the same round trip."""
        if self.layout.cluster:  # one call per queue slot (see cluster_fetch)
            send = self._cluster_lanes.send_all if self._cluster_lanes is not None else None
            return fetch_round(
                self._scripts,
                self.layout,
                order,
                self.working,
                self._idle,
                acks,
                self._redis,
                send,
                self._by_master,
            )
        call = ("fetch", fetch_keys(order, self.working), fetch_args(self._idle, order, acks))
        scripted = finishing(acks)
        if not scripted:
            return self._scripts.on_lane(self._lane, *call)  # no pool checkout per round
        calls = [(u.finish.script, u.finish.keys, u.finish.args) for u in scripted if u.finish]
        replies = self._scripts.run_all(self._redis, [*calls, call])
        return last_reply(replies)

    def finished(self, unit: UnitOfWork) -> None:
        """Redis confirmed the job's final write (its retry/dead record or requeue): forget it."""
        self._ledger.discard([unit])

    def acknowledge_later(self, unit: UnitOfWork) -> None:
        """Acknowledge a finished job with the next fetch round trip (or the next flush).

        Until then the job stays in its working list: a crash in between runs it again, which
        at-least-once allows; a clean stop flushes first (:meth:`flush_acks`).
        """
        self._acks.append(unit)

    def has_pending_acks(self) -> bool:
        """Whether acknowledgements wait for the next round trip."""
        return bool(self._acks) or (self._by_master is not None and self._by_master.pending())

    @property
    def pending_acks(self) -> collections.deque[UnitOfWork]:
        """The acknowledgements waiting for a round trip (thread-safe deque). The capsule's
        async fetcher sends them too: when async workers do the fetching and threads only run
        the sync jobs handed to them, no thread fetch would ever carry them."""
        return self._acks

    def flush_acks(self) -> int:
        """Send every pending acknowledgement now (one pipelined round trip)."""
        if self._by_master is not None:  # those held for their master's round go too
            self._acks.extend(self._by_master.release())
        return send_acks(self._redis, self._acks, self._scripts, self._ledger)

    def _flush_acks_safely(self) -> None:
        if self.has_pending_acks():
            try:
                self.flush_acks()
            except TRANSIENT as exc:
                self._outages.failed(exc)

    def drop_buffered(self) -> int:
        """Forget fetched-but-unstarted jobs (they stay in the working list for requeue)."""
        handed = drain(self._handed)
        for _, taken in handed:
            taken.set_result(None)  # the async worker waiting for it moves on
        count = len(self._buffer) + len(handed)
        self._buffer.clear()
        self._pacing.emptied()
        return count

    def requeue_all(self) -> int:
        self.drop_buffered()
        moved = 0
        for name, working in self.working.items():
            moved += int(self._scripts("requeue", [working, self.layout.queue(name)], []))
        self._ledger.clear()
        return moved
