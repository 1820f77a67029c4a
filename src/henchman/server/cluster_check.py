"""Startup checks of a worker in cluster mode (one line, exit 2).

A queue name with braces cannot be used (the braces would change the queue's hash tag). A job
that needs a feature without a cluster key design (see ``keys.CLUSTER_UNSUPPORTED``) is named;
today every feature a job declares in its options has one, and batches, which have none yet,
are refused where one is made (``Batch(...)``), with the same kind of line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from henchman.errors import ConfigError
from henchman.keys import ClusterModeUnavailable, check_cluster_queue_name

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.config import Settings


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


def refuse_unavailable(app: Henchman, settings: Settings) -> None:
    """Raise :class:`ConfigError` for a queue name the cluster layout cannot tag, or naming the
    first job that needs an unavailable feature."""
    layout = app.keys
    if not layout.cluster:
        return
    names = [q.name for q in settings.queues]
    names += [q.name for c in settings.capsules for q in c.queues]
    for name in names:
        try:
            check_cluster_queue_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    for definition in app.registry:
        feature = feature_of(definition)
        if feature is None:
            continue
        try:
            layout.require(feature)
        except ClusterModeUnavailable as exc:
            raise ConfigError(f"{exc} (job {definition.name})") from None
