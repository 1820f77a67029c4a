"""``/metrics.prom``: the cluster-wide numbers in the Prometheus text format, for a scraper.

Needs the ``prometheus`` extra (``prometheus_client``); without it the path answers 404 saying
so. The path is ``/metrics.prom`` because ``/metrics`` is the metrics page, as in Sidekiq.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response

from henchman.web.context import ViewContext
from henchman.web.extension import Page


def exposition(ctx: ViewContext) -> Response:
    try:
        from henchman.integrations.prometheus import exposition as render
    except ImportError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    body, content_type = render(ctx.redis)
    return Response(body, media_type=content_type)


PAGES = [Page("/metrics.prom", exposition)]
