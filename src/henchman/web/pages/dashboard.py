"""The dashboard (``/``): live processed/failed graph, daily history, Redis info; and the JSON
endpoints ``/stats`` (Sidekiq's shape, for monitoring scripts) and ``/stats/queues``."""

from __future__ import annotations

import datetime
from typing import Any

from starlette.responses import Response

from henchman.api import Stats
from henchman.web.context import ViewContext
from henchman.web.extension import Page

HISTORY_CHOICES = (7, 30, 90, 180)
MAX_HISTORY_DAYS = 180
#: The INFO fields Sidekiq's ``/stats`` reports.
STATS_REDIS_FIELDS = (
    "redis_version", "uptime_in_days", "connected_clients", "used_memory_human",
    "used_memory_peak_human",
)  # fmt: skip


def dashboard(ctx: ViewContext) -> Response:
    days = ctx.query_int("days", 30, 1, MAX_HISTORY_DAYS)
    stats = Stats(ctx.redis, clock=ctx.state.clock)
    history = stats.history(days)
    dates = sorted(history)
    chart = {
        "kind": "line",
        "x": [_day_epoch(day) for day in dates],
        "xformat": "date",
        "series": [
            {"name": "Processed", "values": [history[d][0] for d in dates]},
            {"name": "Failed", "values": [history[d][1] for d in dates]},
        ],
    }
    return ctx.render(
        "dashboard.html", title="Dashboard", days=days, day_choices=HISTORY_CHOICES,
        history=chart, redis_info=_redis_rows(stats.redis_info()),
        history_totals=(sum(p for p, _ in history.values()), sum(f for _, f in history.values())),
    )  # fmt: skip


def stats_json(ctx: ViewContext) -> Response:
    """Counters and sizes as JSON; ``sidekiq`` repeats ``henchman`` so scripts written for
    Sidekiq's ``/stats`` keep working."""
    stats = Stats(ctx.redis, clock=ctx.state.clock)
    summary = ctx.state.summary()  # summed over shards when sharded
    numbers = {
        "processed": summary.processed, "failed": summary.failed, "busy": summary.workers_size,
        "processes": summary.processes_size, "enqueued": summary.enqueued,
        "scheduled": summary.scheduled_size, "retries": summary.retry_size,
        "dead": summary.dead_size, "default_latency": summary.default_queue_latency,
    }  # fmt: skip
    info = stats.redis_info()
    now = datetime.datetime.fromtimestamp(ctx.now(), datetime.UTC)
    return ctx.json({
        "henchman": numbers, "sidekiq": numbers,
        "redis": {k: info[k] for k in STATS_REDIS_FIELDS if k in info},
        "server_utc_time": now.strftime("%H:%M:%S UTC"), "time": ctx.now(),
    })  # fmt: skip


def queue_sizes_json(ctx: ViewContext) -> Response:
    """Queue name -> size, largest first."""
    shards = ctx.state.shards
    if shards is not None:
        return ctx.json(shards.queue_sizes())
    return ctx.json(Stats(ctx.redis, clock=ctx.state.clock).queue_sizes())


def _day_epoch(day: str) -> float:
    return datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp()


def _redis_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    """The few INFO fields worth a glance, labelled."""
    server = str(info.get("server_name") or ("valkey" if "valkey_version" in info else "redis"))
    version = info.get("valkey_version") or info.get("redis_version") or "?"
    return [
        ("Server", f"{server} {version}"),
        ("Mode", str(info.get("redis_mode", "standalone"))),
        ("Uptime", f"{info.get('uptime_in_days', 0)} days"),
        ("Connected clients", str(info.get("connected_clients", "?"))),
        ("Memory used", str(info.get("used_memory_human", "?"))),
        ("Memory peak", str(info.get("used_memory_peak_human", "?"))),
        ("Eviction policy", str(info.get("maxmemory_policy", "?"))),
        ("Append-only file", "on" if info.get("aof_enabled") else "off"),
    ]


PAGES = [
    Page("/", dashboard, tab="Dashboard"),
    Page("/stats", stats_json),
    Page("/stats/queues", queue_sizes_json),
]
