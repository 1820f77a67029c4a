"""henchman: background jobs for Python on Redis/Valkey, wire-compatible with Sidekiq.

The public API is exactly ``__all__`` (pinned by a test)::

    import henchman

    @henchman.job(queue="mailers", retry=5)
    def send_email(user_id: int) -> None: ...

    send_email.perform_async(42)
"""

from __future__ import annotations

from typing import Any

# ``periodic`` is imported here, before the function of that name below: a submodule imported
# later (the worker's periodic service) would otherwise replace the function with the package.
from henchman import (
    limits as limiter,
    periodic as _periodic_package,  # noqa: F401
)
from henchman.app import Henchman, default_app
from henchman.batches import Batch, current_batch
from henchman.batches.workflows import chain, chord, group
from henchman.config import QueueSpec, Settings
from henchman.context import JobContext, current_job
from henchman.embed import EmbeddedWorker, embed
from henchman.errors import (
    BatchError,
    ConfigError,
    HenchmanError,
    JobTimeout,
    OverLimit,
    PayloadError,
    PushBufferFull,
    RedisUnavailable,
    UnknownJob,
)
from henchman.iteration import IterableJob, cancel
from henchman.job import Job, JobFunction, job
from henchman.middleware.chain import JobRun, Middleware
from henchman.version import __version__


def periodic(cron: str, job: Any, args: Any = (), **options: Any) -> Any:
    """Register a periodic job on the default app (see :meth:`Henchman.periodic`)."""
    return default_app().periodic(cron, job, args, **options)


def enqueue(name: str, *args: Any, **options: Any) -> str | None:
    """Push a job by its wire name with the default app (``queue=...`` and other options)."""
    return default_app().enqueue(name, *args, **options)


def enqueue_in(delay: float, name: str, *args: Any, **options: Any) -> str | None:
    """Push a job by wire name to run after ``delay`` seconds."""
    return default_app().enqueue_in(delay, name, *args, **options)


def enqueue_at(when: float, name: str, *args: Any, **options: Any) -> str | None:
    """Push a job by wire name to run at epoch seconds ``when``."""
    return default_app().enqueue_at(when, name, *args, **options)


__all__ = [
    "Batch",
    "BatchError",
    "ConfigError",
    "EmbeddedWorker",
    "Henchman",
    "HenchmanError",
    "IterableJob",
    "Job",
    "JobContext",
    "JobFunction",
    "JobRun",
    "JobTimeout",
    "Middleware",
    "OverLimit",
    "PayloadError",
    "PushBufferFull",
    "QueueSpec",
    "RedisUnavailable",
    "Settings",
    "UnknownJob",
    "__version__",
    "cancel",
    "chain",
    "chord",
    "current_batch",
    "current_job",
    "default_app",
    "embed",
    "enqueue",
    "enqueue_at",
    "enqueue_in",
    "group",
    "job",
    "limiter",
    "periodic",
]
