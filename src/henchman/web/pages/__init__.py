"""The built-in pages, declared with the same :class:`~henchman.web.extension.Page` and
:class:`~henchman.web.extension.Action` an extension uses. Tab order is declaration order."""

from __future__ import annotations

from henchman.web.extension import WebExtension
from henchman.web.pages import busy, dashboard, iteration, limits, metrics, queues, sets

CORE = WebExtension(
    name="henchman",
    pages=[
        *dashboard.PAGES,
        *busy.PAGES,
        *queues.PAGES,
        *sets.PAGES,
        *metrics.PAGES,
        *iteration.PAGES,
        *limits.PAGES,
    ],
    actions=[*busy.ACTIONS, *queues.ACTIONS, *sets.ACTIONS, *iteration.ACTIONS, *limits.ACTIONS],
)

__all__ = ["CORE"]
