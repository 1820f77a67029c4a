"""Clock skew between this host and the Redis server, checked on every heartbeat.

Scheduled jobs and retries are scored with the pushing host's clock and promoted by whichever
worker polls, with its own clock: hosts whose clocks disagree by a few seconds only move a
scheduled job by that much, but a larger skew makes jobs run early or late. The heartbeat reads
the server's ``TIME`` (the round trip it already made for its latency figure) and the local
clock around it; :class:`SkewWatch` logs one warning when the skew goes above the limit and one
line when it is back within it, so a skewed host is visible without a line per heartbeat.
"""

from __future__ import annotations

import logging

__all__ = ["MAX_CLOCK_SKEW_SECONDS", "SkewWatch", "skew_seconds"]

MAX_CLOCK_SKEW_SECONDS = 5.0

_log = logging.getLogger("henchman")


def skew_seconds(server_time: tuple[int, int], before: float, after: float) -> float:
    """Server time minus local time (positive: the local clock is behind), local time taken as
    the middle of the round trip ``before``..``after``."""
    seconds, micros = server_time
    return seconds + micros / 1e6 - (before + after) / 2


class SkewWatch:
    """Logs when the skew crosses ``limit`` seconds, in either direction, once per crossing."""

    def __init__(self, limit: float = MAX_CLOCK_SKEW_SECONDS, logger: logging.Logger = _log):
        self.limit = limit
        self._logger = logger
        self.skewed = False

    def observe(self, skew: float) -> None:
        over = abs(skew) > self.limit
        if over and not self.skewed:
            direction = "behind" if skew > 0 else "ahead of"
            self._logger.warning(
                "clock skew: the local clock is %.1f s %s the Redis server (more than %.0f s): "
                "scheduled jobs and retries will run early or late; sync clocks (NTP)",
                abs(skew),
                direction,
                self.limit,
            )
        elif not over and self.skewed:
            self._logger.info("clock skew back within %.0f s (%.1f s)", self.limit, skew)
        self.skewed = over
