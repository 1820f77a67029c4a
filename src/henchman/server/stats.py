"""In-process counters flushed by the heartbeat: no Redis call per job for stats."""

from __future__ import annotations

import threading


class Counters:
    """Processed/failed counts since the last flush. ``processed`` includes failures (Sidekiq)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed = 0
        self.failed = 0

    def processed_one(self) -> None:
        """Count a job that finished without error."""
        with self._lock:
            self.processed += 1

    def failed_one(self) -> None:
        """Count a failed job (it also counts as processed, as in Sidekiq)."""
        with self._lock:
            self.processed += 1
            self.failed += 1

    def take(self) -> tuple[int, int]:
        """Return and reset (processed, failed)."""
        with self._lock:
            counts = (self.processed, self.failed)
            self.processed = self.failed = 0
            return counts

    def give_back(self, processed: int, failed: int) -> None:
        """Re-add counts whose flush failed, so they go out with the next beat."""
        with self._lock:
            self.processed += processed
            self.failed += failed
