"""Periodic (``/periodic``): schedules with their next run (in each schedule's zone), last run
and state, the leader, and per schedule pause/unpause and "enqueue now"; one
schedule's page shows its run history. Built only on :class:`henchman.api.PeriodicSet`."""

from __future__ import annotations

from starlette.responses import Response

from henchman.api import PeriodicSet, ProcessSet
from henchman.errors import ConfigError
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page


def periodic(ctx: ViewContext) -> Response:
    records = PeriodicSet(ctx.redis, clock=ctx.state.clock).all(history=10)
    return ctx.render(
        "periodic.html", title="Periodic", records=records, leader=ProcessSet(ctx.redis).leader,
        notice=ctx.query("notice"),
    )  # fmt: skip


def periodic_schedule(ctx: ViewContext) -> Response:
    schedule_id = str(ctx.params["schedule_id"])
    record = PeriodicSet(ctx.redis, clock=ctx.state.clock).find(schedule_id)
    if record is None:
        return ctx.not_found(f"No periodic job {schedule_id!r} is published.", "periodic")
    return ctx.render(
        "periodic_schedule.html", title=f"Periodic {schedule_id}", record=record,
        notice=ctx.query("notice"),
    )  # fmt: skip


def act(ctx: ViewContext) -> Response:
    """``action`` = pause, unpause or enqueue, for the schedule in the path."""
    schedule_id = str(ctx.params["schedule_id"])
    schedules = PeriodicSet(ctx.redis, clock=ctx.state.clock)
    action = ctx.form_value("action")
    notice = ""
    if action == "pause":
        schedules.pause(schedule_id)
    elif action == "unpause":
        schedules.unpause(schedule_id)
    elif action == "enqueue":
        try:
            jid = schedules.enqueue_now(schedule_id)
            notice = f"Enqueued {schedule_id} as {jid}." if jid else ""
        except ConfigError as exc:
            notice = str(exc)
    back = ctx.form_value("back")
    if back == "schedule":
        return ctx.redirect("periodic", schedule_id, notice=notice)
    return ctx.redirect("periodic", notice=notice)


PAGES = [
    Page("/periodic", periodic, tab="Periodic"),
    Page("/periodic/{schedule_id}", periodic_schedule),
]
ACTIONS = [Action("/periodic/{schedule_id}", act)]
