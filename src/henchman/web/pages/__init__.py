"""The built-in pages, declared with the same :class:`~henchman.web.extension.Page` and
:class:`~henchman.web.extension.Action` an extension uses. Tab order is declaration order."""

from __future__ import annotations

from henchman.web.extension import WebExtension
from henchman.web.pages import (
    batches,
    busy,
    dashboard,
    iteration,
    limits,
    metrics,
    periodic,
    prometheus,
    queues,
    sets,
)

CORE = WebExtension(
    name="henchman",
    pages=[
        *dashboard.PAGES,
        *busy.PAGES,
        *queues.PAGES,
        *sets.PAGES,
        *metrics.PAGES,
        *iteration.PAGES,
        *batches.PAGES,
        *prometheus.PAGES,
        *periodic.PAGES,
        *limits.PAGES,
    ],
    actions=[
        *busy.ACTIONS, *queues.ACTIONS, *sets.ACTIONS, *iteration.ACTIONS, *periodic.ACTIONS,
        *limits.ACTIONS,
    ],
)

__all__ = ["CORE"]
