"""Startup refusal of the features that have no cluster key design yet.

A worker in cluster mode refuses to start (one line, exit 2) when its app registers a job that
would need one: an iterable job, a unique job. Features used only at run time (rate limiters,
batches) are refused where they are used, with the same kind of line (see
``KeyLayout.require``); periodic jobs are refused where the worker loads its schedules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from henchman.errors import ConfigError
from henchman.keys import ClusterModeUnavailable

if TYPE_CHECKING:
    from henchman.app import Henchman


def feature_of(definition: object) -> str | None:
    """The cluster-unavailable feature a job definition needs, if any."""
    target = getattr(definition, "target", None)
    if isinstance(target, type):
        from henchman.iteration.job import IterableJob

        if issubclass(target, IterableJob):
            return "iteration"
    options = getattr(definition, "options", {}) or {}
    if "unique_for" in options or "unique_until" in options:
        return "unique jobs"
    return None


def refuse_unavailable(app: Henchman) -> None:
    """Raise :class:`ConfigError` naming the first job that needs an unavailable feature."""
    layout = app.keys
    if not layout.cluster:
        return
    for definition in app.registry:
        feature = feature_of(definition)
        if feature is None:
            continue
        try:
            layout.require(feature)
        except ClusterModeUnavailable as exc:
            raise ConfigError(f"{exc} (job {definition.name})") from None
