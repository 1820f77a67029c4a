"""The public API is exactly ``__all__`` (STYLE.md: an explicit, pinned surface)."""

from __future__ import annotations

import henchman


def test_public_api_is_pinned() -> None:
    assert sorted(henchman.__all__) == [
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


def test_every_public_name_exists() -> None:
    for name in henchman.__all__:
        assert hasattr(henchman, name), name


def test_limiter_namespace_offers_every_kind() -> None:
    for factory in ("concurrent", "bucket", "window", "leaky", "points", "unlimited"):
        assert callable(getattr(henchman.limiter, factory)), factory
    assert henchman.limiter.OverLimit is henchman.OverLimit
