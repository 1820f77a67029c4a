"""Retries, scheduled and dead jobs (``/retries``, ``/scheduled``, ``/morgue``; ``/dead`` is an
alias): paged lists (``ZREVRANGE``), a text filter (``ZSCAN MATCH``, stops once a page is full),
a detail page per job with its decompressed backtrace, and the actions Sidekiq offers.

A job's key in URLs and forms is Sidekiq's ``<score>-<jid>``: the score (float epoch seconds,
written so it parses back to the same float) finds the entry with one ``ZRANGEBYSCORE``, the jid
picks it among entries with the same score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from starlette.responses import RedirectResponse, Response

from henchman.api import DeadSet, JobRecord, RetrySet, ScheduledSet, SortedSet
from henchman.web.context import ViewContext
from henchman.web.extension import Action, Page, text_param
from henchman.web.pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE, Pager

#: Entries examined per ZSCAN call when filtering.
SCAN_BATCH = 1000
#: Payload fields the detail page shows in their own rows.
_KNOWN = frozenset({
    "class", "args", "jid", "queue", "retry", "created_at", "enqueued_at", "failed_at",
    "retried_at", "retry_count", "error_class", "error_message", "error_backtrace",
})  # fmt: skip
_LABELS = {
    "retry": "Retry now", "add_to_queue": "Add to queue", "delete": "Delete", "kill": "Kill",
}


@dataclass(frozen=True, slots=True)
class SetKind:
    """How one sorted set appears in the UI."""

    slug: str
    title: str
    time_label: str
    opener: Callable[[ViewContext], SortedSet]
    #: Verbs offered for selected jobs and on the detail page, in button order.
    verbs: tuple[str, ...]
    #: Verbs offered for the whole set.
    all_verbs: tuple[str, ...]
    empty: str

    def label(self, verb: str) -> str:
        return _LABELS[verb]


def _retries(ctx: ViewContext) -> SortedSet:
    s = ctx.settings
    return _across_shards(ctx, lambda client: RetrySet(
        client, clock=ctx.state.clock, dead_max_jobs=s.dead_max_jobs, dead_timeout=s.dead_timeout
    ))  # fmt: skip


def _scheduled(ctx: ViewContext) -> SortedSet:
    s = ctx.settings
    return _across_shards(ctx, lambda client: ScheduledSet(
        client, clock=ctx.state.clock, dead_max_jobs=s.dead_max_jobs, dead_timeout=s.dead_timeout
    ))  # fmt: skip


def _dead(ctx: ViewContext) -> SortedSet:
    return _across_shards(ctx, lambda client: DeadSet(client, clock=ctx.state.clock))


def _across_shards(ctx: ViewContext, open_one: Callable[[redis.Redis], SortedSet]) -> SortedSet:
    """The set on the one server, or the sets of every shard read as one (actions go to the
    shard that holds the job)."""
    shards = ctx.state.shards
    if shards is None:
        return open_one(ctx.redis)
    from henchman.shards.admin import MergedSet  # only for a sharded setup

    return MergedSet([open_one(client) for _, client in shards.clients()])


KINDS = (
    SetKind("retries", "Retries", "Next retry", _retries, ("retry", "delete", "kill"),
            ("retry", "delete", "kill"), "No retries: every failed job has been dealt with."),
    SetKind("scheduled", "Scheduled", "When", _scheduled, ("add_to_queue", "delete"),
            ("delete",), "No scheduled jobs."),
    SetKind("morgue", "Dead", "Died", _dead, ("retry", "delete"), ("retry", "delete"),
            "No dead jobs."),
)  # fmt: skip


def parse_key(key: str) -> tuple[float, str] | None:
    """``<score>-<jid>`` -> (score, jid); None when unreadable (no dash, a score that is not a
    finite number, control characters). The jid may be empty."""
    try:
        return job_key_param(key)
    except ValueError:
        return None


def job_key_param(key: str) -> tuple[float, str]:
    """The path parameter ``{key}``: ``<score>-<jid>`` -> (score, jid), else ``ValueError``."""
    score_text, sep, jid = text_param(key).partition("-")
    score = float(score_text) if sep else math.nan
    if not math.isfinite(score):
        raise ValueError(f"not a job key: {key!r}")
    return score, jid


def job_key(record: JobRecord) -> str:
    """Sidekiq's ``<score>-<jid>`` for a sorted-set entry."""
    return f"{record.score!r}-{record.jid}"


def _list_view(kind: SetKind) -> Callable[[ViewContext], Response]:
    def view(ctx: ViewContext) -> Response:
        job_set = kind.opener(ctx)
        substr = ctx.query("substr")
        per_page = ctx.query_int("count", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        page = ctx.query_int("page", 1, 1, 10**9)

        def url(number: int) -> str:
            count = per_page if per_page != DEFAULT_PER_PAGE else None
            return ctx.url(kind.slug, page=number, substr=substr, count=count)

        size = job_set.size
        if substr:
            wanted = page * per_page + 1
            found: list[JobRecord] = []
            for record in job_set.scan(substr, batch=SCAN_BATCH):
                found.append(record)
                if len(found) >= wanted:
                    break
            pager = Pager.of(page, per_page, None, url, has_next=len(found) == wanted)
            records = found[pager.offset : pager.offset + per_page]
            records.sort(key=lambda r: -(r.score or 0.0))
        else:
            pager = Pager.of(page, per_page, size, url)
            records = job_set.page(pager.offset, per_page)
        return ctx.render(
            "set.html", title=kind.title, kind=kind, records=records, pager=pager,
            substr=substr, size=size, key=job_key,
        )  # fmt: skip

    return view


def _detail_view(kind: SetKind) -> Callable[[ViewContext], Response]:
    def view(ctx: ViewContext) -> Response:
        record = _find(ctx, kind, ctx.params["key"])
        if record is None:
            return ctx.not_found(
                f"No such job in {kind.title.lower()}: it may have run, moved or been deleted.",
                kind.slug,
            )
        extra = {k: v for k, v in record.item.items() if k not in _KNOWN}
        return ctx.render(
            "job.html", title=f"{kind.title}: {record.display_class or 'job'}", kind=kind,
            record=record, key=job_key(record), extra=extra,
        )  # fmt: skip

    return view


def _find(ctx: ViewContext, kind: SetKind, key: tuple[float, str]) -> JobRecord | None:
    found = kind.opener(ctx).fetch(key[0], key[1])
    return found[0] if found else None


def _apply(job_set: SortedSet, verb: str, record: JobRecord) -> bool:
    act: Any = {
        "retry": job_set.retry, "add_to_queue": job_set.add_to_queue, "delete": job_set.delete,
        "kill": getattr(job_set, "kill", None),
    }.get(verb)  # fmt: skip
    return bool(act(record)) if act is not None else False


def _bulk_action(kind: SetKind) -> Callable[[ViewContext], Response]:
    def action(ctx: ViewContext) -> Response:
        verb = ctx.form_value("action")
        if verb in kind.verbs:
            job_set = kind.opener(ctx)
            for key in ctx.form_values("key"):
                parsed = parse_key(key)
                if parsed is not None:
                    for record in job_set.fetch(parsed[0], parsed[1]):
                        _apply(job_set, verb, record)
        return _back(ctx, kind)

    return action


def _one_action(kind: SetKind) -> Callable[[ViewContext], Response]:
    def action(ctx: ViewContext) -> Response:
        verb = ctx.form_value("action")
        if verb in kind.verbs:
            job_set = kind.opener(ctx)
            record = _find(ctx, kind, ctx.params["key"])
            if record is not None:
                _apply(job_set, verb, record)
        return ctx.redirect(kind.slug)

    return action


def _all_action(kind: SetKind) -> Callable[[ViewContext], Response]:
    def action(ctx: ViewContext) -> Response:
        verb = str(ctx.params["verb"])
        if verb in kind.all_verbs:  # always: the route's parser refused any other
            job_set: Any = kind.opener(ctx)
            if verb == "retry":
                job_set.retry_all()
            elif verb == "delete":
                job_set.clear()
            elif verb == "kill":
                job_set.kill_all()
        return ctx.redirect(kind.slug)

    return action


def _back(ctx: ViewContext, kind: SetKind) -> Response:
    """Back to the list page the form was on (page and filter kept)."""
    page = ctx.form_value("page")
    return ctx.redirect(
        kind.slug, page=page if page.isdigit() and page != "1" else None,
        substr=ctx.form_value("substr") or None,
    )  # fmt: skip


def _verb_param(kind: SetKind) -> Callable[[str], str]:
    def parse(verb: str) -> str:
        if verb not in kind.all_verbs:
            raise ValueError(verb)
        return verb

    return parse


def _dead_alias(ctx: ViewContext) -> Response:
    """``/dead`` and ``/dead/<key>`` redirect to the morgue, Sidekiq's name for the page."""
    key = ctx.params.get("key")
    target = ctx.url("morgue", key) if key else ctx.url("morgue")
    query = ctx.request.url.query
    return RedirectResponse(target + (f"?{query}" if query else ""), status_code=301)


PAGES: list[Page] = []
ACTIONS: list[Action] = []
for _kind in KINDS:
    _key = {"key": job_key_param}
    PAGES += [
        Page(f"/{_kind.slug}", _list_view(_kind), tab=_kind.title),
        Page(f"/{_kind.slug}/{{key}}", _detail_view(_kind), params=_key),
    ]
    ACTIONS += [
        Action(f"/{_kind.slug}", _bulk_action(_kind)),
        Action(
            f"/{_kind.slug}/all/{{verb}}", _all_action(_kind), params={"verb": _verb_param(_kind)}
        ),
        Action(f"/{_kind.slug}/{{key}}", _one_action(_kind), params=_key),
    ]
PAGES += [Page("/dead", _dead_alias), Page("/dead/{key}", _dead_alias)]
