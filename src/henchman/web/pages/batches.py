"""Batches (``/batches``, ``/batches/<bid>``): Sidekiq Pro's batch pages — every batch newest
first with its progress, and one batch's counts, times, callbacks, parent and children, with its
failed and dead jids linked to their records in the retry and dead sets. Read-only; built only
on :mod:`henchman.api.batches`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from henchman.api import BatchSet, BatchStatus
from henchman.batches.model import Snapshot
from henchman.errors import BatchError
from henchman.web.context import ViewContext
from henchman.web.extension import Page
from henchman.web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Pager


@dataclass(frozen=True, slots=True)
class Row:
    """A batch with the figures the pages show."""

    snap: Snapshot

    @property
    def succeeded(self) -> int:
        return max(self.snap.total - self.snap.pending, 0)

    @property
    def percent(self) -> int:
        total = self.snap.total
        return (
            100
            if total == 0 and self.snap.success_at
            else (self.succeeded * 100 // total if total else 0)
        )

    @property
    def state(self) -> str:
        snap = self.snap
        if snap.success_at is not None:
            return "success"
        if snap.complete_at is not None:
            return "complete"
        return "pending"


def batches(ctx: ViewContext) -> Response:
    per_page = ctx.query_int("count", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = ctx.query_int("page", 1, 1, 10**9)
    batch_set = BatchSet(ctx.redis)

    def url(number: int) -> str:
        count = per_page if per_page != DEFAULT_PER_PAGE else None
        return ctx.url("batches", page=number, count=count)

    pager = Pager.of(page, per_page, batch_set.size, url)
    rows = [Row(snap) for snap in batch_set.page(pager.offset, per_page)]
    return ctx.render("batches.html", title="Batches", rows=rows, pager=pager)


def batch(ctx: ViewContext) -> Response:
    bid = str(ctx.params["bid"])
    try:
        status = BatchStatus(bid, ctx.redis)
    except BatchError:
        return ctx.not_found(f"Batch {bid} does not exist (unknown, or expired).", "batches")
    children = [Row(child.snapshot) for child in status.children()]
    return ctx.render(
        "batch.html", title=f"Batch {bid}", row=Row(status.snapshot), children=children
    )


PAGES = [
    Page("/batches", batches, tab="Batches"),
    Page("/batches/{bid}", batch),
]
