"""Limits (``/limits``): every rate limiter a process has used, its contract and its usage now,
with a reset (forget current usage) and a delete button per limiter. Built only on
:class:`henchman.api.LimiterSet`; a page of names at a time."""

from __future__ import annotations

from starlette.responses import Response

from henchman.api import LimiterRecord, LimiterSet
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page
from henchman.web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Pager

_BUCKETS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


def contract(record: LimiterRecord) -> str:
    """The limiter's contract in words, e.g. "20 per calendar second"."""
    span = record.interval or 0.0
    if record.kind == "concurrent":
        return f"{record.size} at once (lease {record.lock_timeout or 0:g} s)"
    if record.kind == "bucket":
        return f"{record.size} per calendar {_BUCKETS.get(int(span), f'{span:g} s')}"
    if record.kind == "window":
        return f"{record.size} in any {span:g} s"
    if record.kind == "leaky":
        return f"burst of {record.size}, drains in {span:g} s"
    if record.kind == "points":
        return f"{record.size} points per {span:g} s"
    return record.kind


def limits(ctx: ViewContext) -> Response:
    found = LimiterSet(ctx.redis)
    names = found.names()
    per_page = ctx.query_int("count", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    count = per_page if per_page != DEFAULT_PER_PAGE else None
    pager = Pager.of(
        ctx.query_int("page", 1, 1, 10**9), per_page, len(names),
        lambda n: ctx.url("limits", page=n, count=count),
    )  # fmt: skip
    records = found.all(names[pager.offset : pager.offset + per_page])
    return ctx.render(
        "limits.html", title="Limits", records=records, pager=pager, contract=contract
    )


def limit_action(ctx: ViewContext) -> Response:
    """Reset a limiter's usage or delete it (a process using it registers it again)."""
    name = str(ctx.params["name"])
    action = ctx.form_value("action")
    if action == "reset":
        LimiterSet(ctx.redis).reset(name)
    elif action == "delete":
        LimiterSet(ctx.redis).delete(name)
    return ctx.redirect("limits")


PAGES = [Page("/limits", limits, tab="Limits")]
ACTIONS = [Action("/limits/{name}", limit_action)]
