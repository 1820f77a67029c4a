"""Periodic (cron) jobs with leader election (Sidekiq Enterprise's model, plus catch-up).

Register schedules in code or config; every worker process runs a
:class:`~henchman.periodic.service.PeriodicService` that elects one leader through the
``dear-leader`` lease, and only the leader enqueues. Each tick is enqueued at most once by one
atomic Lua step keyed by (schedule id, tick time). See ``docs/periodic.md``.

Modules: :mod:`henchman.periodic_schedule` (what, pure: at the bottom of the package because
settings validation checks configured schedules), :mod:`henchman.cron` (when, pure),
:mod:`~henchman.periodic.ticks` (which ticks now, pure), :mod:`~henchman.periodic.lease` (who
leads), :mod:`~henchman.periodic.enqueuer` (the atomic step), :mod:`~henchman.periodic.service`
(the loop in each worker).
"""

from henchman.periodic_schedule import MISSED_POLICIES, Schedule

__all__ = ["MISSED_POLICIES", "Schedule"]
