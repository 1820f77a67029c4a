"""The periodic component of a worker process: leader election and, on the leader, ticks.

Every worker runs one :class:`PeriodicService` thread. It holds or watches the lease
(:mod:`henchman.periodic.lease`); while this process leads, it enqueues each schedule's due ticks
(:mod:`henchman.periodic.ticks`, :mod:`henchman.periodic.enqueuer`) and sleeps until the next
tick or lease renewal. Correctness never rests on this loop's timing: every tick goes through
one Lua step that checks leadership and the schedule's mark, so a stale leader, two leaders for
a moment, or a restart cannot enqueue a tick twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis

from henchman import cron
from henchman.periodic.enqueuer import TickEnqueuer
from henchman.periodic.lease import LeaderLease, LeaseState
from henchman.periodic.ticks import TickPlan, plan_ticks
from henchman.periodic_schedule import Schedule, merge

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings

__all__ = ["PeriodicService", "schedules_for"]

log = logging.getLogger("henchman.periodic")

#: Longest sleep between passes (so a clock jump or a lost lease is noticed soon).
MAX_WAIT = 5.0
#: Missed ticks named in the "skipped" log line.
NAMED_SKIPS = 20


def schedules_for(app: Henchman, settings: Settings) -> list[Schedule]:
    """The app's schedules plus the config file's, validated (one-line ConfigError)."""
    return merge(app.schedules, settings.periodic, "the config file")


class PeriodicService:
    """Leader election plus the tick loop for one worker process."""

    def __init__(
        self,
        client: redis.Redis,
        identity: str,
        schedules: Sequence[Schedule],
        enqueuer: TickEnqueuer,
        lease: LeaderLease,
        *,
        renew_interval: float,
        check_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.identity = identity
        self.schedules = list(schedules)
        self.enqueuer = enqueuer
        self.lease = lease
        self.renew_interval = renew_interval
        self.check_interval = check_interval
        self.clock = clock
        self.leader = False
        #: When this process's current term as leader began (epoch seconds).
        self.leader_since: float | None = None
        self._next_lease = 0.0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    @classmethod
    def for_worker(
        cls, app: Henchman, settings: Settings, client: redis.Redis, identity: str
    ) -> PeriodicService:
        """The service for a launcher: schedules validated now (ConfigError names the entry)."""
        schedules = schedules_for(app, settings)
        return cls(
            client, identity, schedules,
            TickEnqueuer(client, identity, app.client_middleware, layout=app.keys),
            LeaderLease(client, identity, settings.leader_lease, app.keys),
            renew_interval=settings.leader_renew_interval,
            check_interval=settings.leader_check_interval,
        )  # fmt: skip

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="henchman-periodic", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and step down if leading, so another process takes over at once."""
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        try:
            if self.lease.resign():
                log.info("stepped down as leader")
        except redis.RedisError as exc:
            log.warning("could not step down as leader (the lease will expire): %s", exc)
        self.leader = False

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                wait = self.step()
                self._last_error = ""
            except (redis.RedisError, OSError) as exc:
                if str(exc) != self._last_error:
                    log.warning("periodic: Redis error, retrying: %s", exc)
                    self._last_error = str(exc)
                wait = 1.0
            except Exception:
                log.exception("periodic: unexpected error")
                wait = 1.0
            self._stopped.wait(wait)

    # --- one pass -------------------------------------------------------------------------------

    def step(self) -> float:
        """Hold or watch the lease when due, enqueue due ticks if leading; return the seconds
        to wait before the next pass."""
        now = self.clock()
        if now >= self._next_lease:
            self._observe(self.lease.hold(), now)
        wake = self._next_lease
        if self.leader and not self._stopped.is_set():
            next_tick = self._tick(now)
            if next_tick is not None:
                wake = min(wake, next_tick)
        return min(max(wake - self.clock(), 0.01), MAX_WAIT)

    def _observe(self, state: LeaseState, now: float) -> None:
        if state.leader:
            if state.newly or not self.leader:
                self.leader_since = now
                log.info("became leader (%d periodic job(s))", len(self.schedules))
                self._publish()
            self.leader = True
            self._next_lease = now + self.renew_interval
            return
        if self.leader:
            log.warning("lost leadership to another process")
        self.leader = False
        wait = self.check_interval
        if state.remaining is not None:  # look again right when the lease we saw runs out
            wait = min(wait, state.remaining + 0.01)
        self._next_lease = now + wait

    def _publish(self) -> None:
        """Replace the published schedule definitions with this leader's (CLI and Web UI)."""
        pipe = self.client.pipeline(transaction=True)
        published = self.enqueuer.layout.PERIODIC_SCHEDULES
        pipe.delete(published)
        if self.schedules:
            pipe.hset(published, mapping={s.id: s.to_json() for s in self.schedules})
        pipe.execute()

    def _tick(self, now: float) -> float | None:
        """Handle every schedule's due ticks; the earliest next tick, or None."""
        since = self.leader_since if self.leader_since is not None else now
        earliest: float | None = None
        for schedule, stored in zip(
            self.schedules, self.enqueuer.marks(self.schedules), strict=True
        ):
            mark = stored
            if mark is None:
                self.enqueuer.init(schedule, now)
                mark = now
            plan = plan_ticks(schedule, mark, now, since)
            if not self._handle(schedule, plan, now):
                return None
            if plan.next_tick is not None and (earliest is None or plan.next_tick < earliest):
                earliest = plan.next_tick
        return earliest

    def _handle(self, schedule: Schedule, plan: TickPlan, now: float) -> bool:
        """Act on one plan; False if leadership turned out to be lost."""
        results = []
        if plan.latest_missed is not None:
            if schedule.missed == "run_once":
                results.append(
                    self.enqueuer.enqueue(schedule, plan.latest_missed, now, plan.missed_count)
                )
                if results[-1] == "enqueued":
                    log.info(
                        "periodic %s: %d tick(s) missed while no process led; enqueued one "
                        "catch-up run for %s", schedule.id, plan.missed_count,
                        _show(plan.latest_missed, schedule.tz),
                    )  # fmt: skip
            else:
                results.append(
                    self.enqueuer.skip(schedule, plan.latest_missed, now, plan.missed_count)
                )
                if results[-1] == "skipped":
                    log.warning(
                        "periodic %s: skipped %d tick(s) missed while no process led: %s",
                        schedule.id, plan.missed_count, _names(plan, schedule.tz),
                    )  # fmt: skip
        for tick in plan.due:
            results.append(self.enqueuer.enqueue(schedule, tick, now))
            if results[-1] == "paused":
                log.info("periodic %s: paused, tick %s not enqueued", schedule.id,
                         _show(tick, schedule.tz))  # fmt: skip
        if "not-leader" in results:
            log.warning("lost leadership to another process")
            self.leader = False
            self._next_lease = now
            return False
        return True


def _show(epoch: float, tz: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).astimezone(cron.zone(tz)).isoformat()


def _names(plan: TickPlan, tz: str) -> str:
    shown = ", ".join(_show(t, tz) for t in plan.missed[:NAMED_SKIPS])
    more = plan.missed_count - min(len(plan.missed), NAMED_SKIPS)
    return shown + (f" and {more} more" if more > 0 else "")
