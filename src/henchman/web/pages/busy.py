"""Busy (``/busy``): live processes with their queues and load, quiet/stop buttons (through
Sidekiq's ``<identity>-signals``, so Ruby processes obey them too), and the jobs running now."""

from __future__ import annotations

from starlette.responses import Response

from henchman.api import ProcessSet, WorkSet
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page
from henchman.web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Pager

#: A process whose last beat is older than this is shown as stale (it beats every 10 s).
STALE_AFTER = 30.0


def busy(ctx: ViewContext) -> Response:
    processes = ProcessSet(ctx.redis).all()
    work = WorkSet(ctx.redis).all()
    per_page = ctx.query_int("count", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    pager = Pager.of(
        ctx.query_int("page", 1, 1, 10**9), per_page, len(work),
        lambda n: ctx.url("busy", page=n, count=per_page if per_page != DEFAULT_PER_PAGE else None),
    )  # fmt: skip
    threads = sum(p.concurrency for p in processes)
    busy_now = sum(p.busy for p in processes)
    return ctx.render(
        "busy.html", title="Busy", processes=processes,
        work=work[pager.offset : pager.offset + per_page], pager=pager,
        totals={"processes": len(processes), "threads": threads, "busy": busy_now,
                "utilization": round(100 * busy_now / threads) if threads else 0,
                "rss": sum(p.rss for p in processes)},
        stale_after=STALE_AFTER, leader=ProcessSet(ctx.redis).leader,
    )  # fmt: skip


def signal(ctx: ViewContext) -> Response:
    """Quiet or stop one process (``identity``) or, without one, every live process."""
    action = ctx.form_value("action")
    identity = ctx.form_value("identity")
    processes = ProcessSet(ctx.redis)
    if action == "quiet":
        processes.quiet(identity) if identity else processes.quiet_all()
    elif action == "stop":
        processes.stop(identity) if identity else processes.stop_all()
    return ctx.redirect("busy")


PAGES = [Page("/busy", busy, tab="Busy")]
ACTIONS = [Action("/busy", signal)]
