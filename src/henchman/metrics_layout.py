"""The execution-metrics layout shared by its writer and its readers: Sidekiq 8's histogram
buckets and how long each kind of metrics key lives.

The metrics middleware (:mod:`henchman.middleware.metrics`) writes this layout and the admin API
(:mod:`henchman.api.metrics`, which describes the keys) reads it; both import it from here, at
the bottom of the package, so neither depends on the other. Key names are in :mod:`henchman.keys`.
"""

from __future__ import annotations

import bisect

__all__ = [
    "BUCKETS",
    "BUCKET_LABELS",
    "BUCKET_LIMITS_MS",
    "HISTOGRAM_TTL",
    "MINUTE_TTL",
    "TEN_MINUTE_TTL",
    "bucket_index",
]

#: Upper bound (exclusive, ms) of each histogram bucket but the last, Sidekiq's fixed buckets.
BUCKET_LIMITS_MS: tuple[int, ...] = (
    20, 30, 45, 65, 100, 150, 225, 335, 500, 750, 1100, 1700, 2500, 3800, 5750,
    8500, 13000, 20000, 30000, 45000, 65000, 100000, 150000, 225000, 335000,
)  # fmt: skip
#: Labels of the 26 buckets (the last holds everything from 335 s up).
BUCKET_LABELS: tuple[str, ...] = (
    "20ms", "30ms", "45ms", "65ms", "100ms", "150ms", "225ms", "335ms", "500ms", "750ms",
    "1.1s", "1.7s", "2.5s", "3.8s", "5.75s", "8.5s", "13s", "20s", "30s", "45s",
    "65s", "100s", "150s", "225s", "335s", "Slow",
)  # fmt: skip
BUCKETS = len(BUCKET_LABELS)
#: Seconds each kind of key lives (refreshed on every write).
MINUTE_TTL = 8 * 3600
TEN_MINUTE_TTL = 72 * 3600
HISTOGRAM_TTL = 8 * 3600


def bucket_index(ms: float) -> int:
    """The histogram bucket of an execution that took ``ms`` milliseconds."""
    return bisect.bisect_right(BUCKET_LIMITS_MS, ms)
