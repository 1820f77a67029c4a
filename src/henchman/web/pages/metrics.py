"""Metrics (``/metrics``, ``/metrics/<class>``): job classes by total execution time over the
last 1 to 72 hours, and per class a timeline and (up to 8 hours) a latency histogram.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from henchman.api import MetricsQuery
from henchman.api.metrics import BUCKET_LABELS, JobMetrics, TopJobs
from henchman.web.context import ViewContext
from henchman.web.extension import Page

#: Period choices: label -> query arguments. Up to 8 h reads minute buckets, beyond ten-minute.
PERIODS: dict[str, dict[str, int]] = {
    "1h": {"minutes": 60}, "2h": {"minutes": 120}, "4h": {"minutes": 240},
    "8h": {"minutes": 480}, "24h": {"hours": 24}, "48h": {"hours": 48}, "72h": {"hours": 72},
}  # fmt: skip
#: Classes drawn on the overview chart.
CHART_CLASSES = 5


def _period(ctx: ViewContext) -> str:
    period = ctx.query("period", "1h")
    return period if period in PERIODS else "1h"


def metrics(ctx: ViewContext) -> Response:
    period = _period(ctx)
    result = MetricsQuery(ctx.redis, clock=ctx.state.clock).top_jobs(**PERIODS[period])
    substr = ctx.query("substr")
    jobs = [j for j in result.jobs if substr.lower() in j.job_class.lower()]
    return ctx.render(
        "metrics.html", title="Metrics", period=period, periods=list(PERIODS), jobs=jobs,
        substr=substr, chart=_top_chart(result, [j.job_class for j in jobs[:CHART_CLASSES]]),
    )  # fmt: skip


def metrics_for_class(ctx: ViewContext) -> Response:
    period = _period(ctx)
    job_class = str(ctx.params["job_class"])
    result = MetricsQuery(ctx.redis, clock=ctx.state.clock).for_job(job_class, **PERIODS[period])
    return ctx.render(
        "metrics_class.html", title=f"Metrics: {job_class}", period=period,
        periods=list(PERIODS), job_class=job_class, totals=result.totals,
        timeline=_timeline_chart(result), durations=_duration_chart(result),
        histogram=_histogram_chart(result),
    )  # fmt: skip


def _marks(marks: list[tuple[float, str]]) -> list[list[Any]]:
    return [[when, label] for when, label in marks]


def _top_chart(result: TopJobs, classes: list[str]) -> dict[str, Any]:
    """Seconds of execution per bucket for the top classes."""
    return {
        "kind": "line", "x": result.buckets, "xformat": "time", "unit": "s",
        "series": [
            {"name": name, "values": [round(ms / 1000, 3) for _, _, ms in result.series[name]]}
            for name in classes
        ],
        "marks": _marks(result.marks),
    }  # fmt: skip


def _timeline_chart(result: JobMetrics) -> dict[str, Any]:
    return {
        "kind": "line", "x": result.buckets, "xformat": "time",
        "series": [
            {"name": "Processed", "values": [p for p, _, _ in result.timeline]},
            {"name": "Failed", "values": [f for _, f, _ in result.timeline]},
        ],
        "marks": _marks(result.marks),
    }  # fmt: skip


def _duration_chart(result: JobMetrics) -> dict[str, Any]:
    """Mean milliseconds of a successful execution per bucket (0 where none succeeded)."""
    means = [round(ms / (p - f), 1) if p > f else 0 for p, f, ms in result.timeline]
    return {
        "kind": "line", "x": result.buckets, "xformat": "time", "unit": "ms",
        "series": [{"name": "Mean time", "values": means}], "marks": _marks(result.marks),
    }  # fmt: skip


def _histogram_chart(result: JobMetrics) -> dict[str, Any] | None:
    if not result.histogram:
        return None
    return {
        "kind": "bar", "labels": list(BUCKET_LABELS),
        "series": [{"name": "Executions", "values": result.histogram}],
    }


PAGES = [
    Page("/metrics", metrics, tab="Metrics"),
    Page("/metrics/{job_class:path}", metrics_for_class),
]
