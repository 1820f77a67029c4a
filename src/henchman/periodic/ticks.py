"""Which ticks a leader handles now: a pure decision over a schedule, its mark and the clock.

A schedule's *mark* is the epoch of the newest tick already handled (stored in Redis and only
ever advanced by ``periodic_tick.lua``). Every tick after the mark and not after ``now`` is due.
Due ticks from before ``leader_since`` (when this process became leader) fell while no process
led: they are *missed*, and the schedule's ``missed`` policy decides (skip them, or enqueue one
catch-up run). Due ticks since then are enqueued, however late the leader is, so a busy or
paused leader process never loses a tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from cronsim import CronSim

from henchman import cron
from henchman.periodic_schedule import Schedule

__all__ = ["TickPlan", "plan_ticks"]

#: Most ticks looked at per schedule per pass (a 1-second schedule after a day-long outage has
#: 86,400 missed ticks; counting them all would stall the leader).
MAX_TICKS = 1000


@dataclass(slots=True)
class TickPlan:
    """What to do for one schedule now (epochs are float seconds)."""

    #: Ticks to enqueue, oldest first (they fell while this process led).
    due: list[float] = field(default_factory=list)
    #: Missed ticks (while no process led), oldest first, at most ``MAX_TICKS``.
    missed: list[float] = field(default_factory=list)
    #: How many ticks were missed (may exceed ``len(missed)``).
    missed_count: int = 0
    #: The newest missed tick: the catch-up run's tick, or the mark a skip advances to.
    latest_missed: float | None = None
    #: The schedule's next tick after everything above (to know how long to sleep).
    next_tick: float | None = None


def plan_ticks(schedule: Schedule, mark: float, now: float, leader_since: float) -> TickPlan:
    """The ticks of ``schedule`` after ``mark`` up to ``now``, split at ``leader_since``."""
    plan = TickPlan()
    cursor = _aware(mark)
    for run in cron.runs_after(schedule.cron, cursor, schedule.tz):
        at = run.timestamp()
        if at > now:
            plan.next_tick = at
            return plan
        if at < leader_since:
            plan.missed_count += 1
            plan.latest_missed = at
            if len(plan.missed) < MAX_TICKS:
                plan.missed.append(at)
            elif plan.missed_count > MAX_TICKS:
                return _jump(schedule, plan, now, leader_since)
        else:
            plan.due.append(at)
            if len(plan.due) >= MAX_TICKS:
                return plan  # the rest on the next pass: the mark has moved by then
    return plan


def _jump(schedule: Schedule, plan: TickPlan, now: float, leader_since: float) -> TickPlan:
    """Too many missed ticks to walk: find the newest one by walking back from
    ``leader_since`` and restart the walk there (the count is then a lower bound)."""
    text = cron.normalize(schedule.cron)
    start = _aware(leader_since).astimezone(cron.zone(schedule.tz))
    newest = next(CronSim(text, start, reverse=True), None)
    if newest is not None and newest.timestamp() < leader_since:
        plan.latest_missed = newest.timestamp()
    rest = plan_ticks(schedule, plan.latest_missed or leader_since, now, leader_since)
    plan.due, plan.next_tick = rest.due, rest.next_tick
    return plan


def _aware(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
