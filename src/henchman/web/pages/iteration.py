"""Iteration (``/iteration``): progress of iterable jobs — executions, cursor,
runtime, ledgers and offloaded files of every job with an ``it-<jid>`` state, one job's detail
with its failed rows, and a cancel button (``henchman.cancel``, seen by the job at its next state
flush). Built only on :class:`henchman.api.IterationState`."""

from __future__ import annotations

from starlette.responses import Response

from henchman.api import IterationState
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page

#: Most jobs listed (the list comes from a SCAN of ``it-*`` keys).
LIST_LIMIT = 200
#: Failed rows shown on a job's page (the CLI and API return all of them).
FAILED_ROWS_SHOWN = 500


def iteration(ctx: ViewContext) -> Response:
    records = IterationState(ctx.redis).all(limit=LIST_LIMIT)
    return ctx.render("iteration.html", title="Iteration", records=records, limit=LIST_LIMIT)


def iteration_job(ctx: ViewContext) -> Response:
    jid = str(ctx.params["jid"])
    record = IterationState(ctx.redis).find(jid)
    if record is None:
        return ctx.not_found(f"No iterable job with jid {jid} has state in Redis.", "iteration")
    failed = list(record.ledger.failed.items())
    return ctx.render(
        "iteration_job.html", title=f"Iteration {jid}", record=record,
        failed=failed[:FAILED_ROWS_SHOWN], failed_total=len(failed),
    )  # fmt: skip


def cancel(ctx: ViewContext) -> Response:
    jid = str(ctx.params["jid"])
    IterationState(ctx.redis).cancel(jid)
    return ctx.redirect("iteration", jid)


PAGES = [
    Page("/iteration", iteration, tab="Iteration"),
    Page("/iteration/{jid}", iteration_job),
]
ACTIONS = [Action("/iteration/{jid}", cancel)]
