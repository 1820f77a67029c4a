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
        "periodic",
    ]


def test_every_public_name_exists() -> None:
    for name in henchman.__all__:
        assert hasattr(henchman, name), name
