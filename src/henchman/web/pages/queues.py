"""Queues (``/queues``, ``/queues/<name>``): sizes, latency and pause state; browse a queue one
page at a time (``LRANGE``, never the whole list), delete one job, clear, pause and unpause."""

from __future__ import annotations

from starlette.responses import Response

from henchman.api import Queue
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page
from henchman.web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Pager


def queues(ctx: ViewContext) -> Response:
    shards = ctx.state.shards  # a sharded setup lists every shard's queues with their shard
    summaries = (
        Queue.summaries(ctx.redis, clock=ctx.state.clock)
        if shards is None
        else shards.queue_summaries(clock=ctx.state.clock)
    )
    return ctx.render("queues.html", title="Queues", queues=summaries, sharded=shards is not None)


def _queue(ctx: ViewContext, name: str) -> Queue:
    """Queue ``name`` on the server it lives on."""
    shards = ctx.state.shards
    if shards is None:
        return Queue(ctx.redis, name, clock=ctx.state.clock)
    return shards.queue(name, clock=ctx.state.clock)


def queue(ctx: ViewContext) -> Response:
    name = str(ctx.params["name"])
    found = _queue(ctx, name)
    size = found.size
    per_page = ctx.query_int("count", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    oldest_first = ctx.query("direction") == "asc"

    def url(page: int) -> str:
        count = per_page if per_page != DEFAULT_PER_PAGE else None
        return ctx.url("queues", name, page=page, count=count,
                       direction="asc" if oldest_first else None)  # fmt: skip

    pager = Pager.of(ctx.query_int("page", 1, 1, 10**9), per_page, size, url)
    if oldest_first:  # the head is the right end: read the page counted from there
        start = max(size - pager.offset - per_page, 0)
        page = found.page(start, max(size - pager.offset - start, 0))
        rows = list(reversed(list(enumerate(page, start))))
    else:
        rows = list(enumerate(found.page(pager.offset, per_page), pager.offset))
    return ctx.render(
        "queue.html", title=f"Queue {name}", name=name, size=size, latency=found.latency,
        paused=found.paused, rows=rows, pager=pager, oldest_first=oldest_first,
    )  # fmt: skip


def queue_action(ctx: ViewContext) -> Response:
    """Clear, pause or unpause a queue (Sidekiq posts to the same path to clear)."""
    name = str(ctx.params["name"])
    found = _queue(ctx, name)
    action = ctx.form_value("action", "clear")
    if action == "pause":
        found.pause()
    elif action == "unpause":
        found.unpause()
    elif action == "clear":
        found.clear()
        return ctx.redirect("queues")
    return ctx.redirect("queues", name) if ctx.form_value("back") == "queue" else ctx.redirect(
        "queues"
    )


def delete_job(ctx: ViewContext) -> Response:
    """Delete one job, named by the digest of its exact bytes and the index it was shown at
    (the page never carries whole payloads: a job may be megabytes)."""
    name = str(ctx.params["name"])
    digest = ctx.form_value("digest")
    near = ctx.form_value("index")
    if len(digest) == 32 and all(c in "0123456789abcdef" for c in digest):
        _queue(ctx, name).delete_by_digest(digest, int(near) if near.isdigit() else 0)
    page = ctx.form_value("page")
    return ctx.redirect("queues", name, page=page if page.isdigit() and page != "1" else None)


# ``:path`` because a queue name may contain "/"; the delete route comes first so that
# ``/queues/x/delete`` is not read as the queue "x/delete".
PAGES = [Page("/queues", queues, tab="Queues"), Page("/queues/{name:path}", queue)]
ACTIONS = [
    Action("/queues/{name:path}/delete", delete_job),
    Action("/queues/{name:path}", queue_action),
]
