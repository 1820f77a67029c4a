"""How long a refused caller waits before asking again: a pure decision, no I/O.

Waiting never polls Redis in a loop: each refusal says when room frees at the latest (the next
interval, the oldest admission leaving the window, the earliest lease expiring), and the caller
sleeps until then plus a small jitter, so callers refused together do not all come back in the
same millisecond. A concurrent limiter can free a slot earlier (a release), so its callers block
on the limiter's wake-up list instead of sleeping, for at most :data:`MAX_BLOCK` seconds at once.
"""

from __future__ import annotations

#: Longest single blocking wait (seconds): well under any connection's socket timeout.
MAX_BLOCK = 2.0
#: Jitter added to a sleep: up to this fraction of it, and never more than MAX_JITTER seconds.
JITTER_SHARE = 0.1
MAX_JITTER = 0.02
#: Shortest pause: a refusal never turns into an immediate retry (and a blocking wait is never
#: shorter than the server's millisecond resolution, where 0 would mean "forever").
MIN_PAUSE = 0.002


def pause(wait: float, remaining: float, jitter: float, *, frees_early: bool) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` to give up (raise ``OverLimit``).

    ``wait``: seconds until room frees at the latest, from the refusing script; ``remaining``:
    seconds left of the caller's ``wait_timeout``; ``jitter``: uniform in [0, 1); ``frees_early``:
    whether room can appear before ``wait`` (a release), so waiting part of it is worth it.
    """
    if remaining <= 0:
        return None
    if not frees_early and wait > remaining:
        return None  # room cannot appear in time: refuse now instead of sleeping for nothing
    extra = jitter * min(JITTER_SHARE * wait, MAX_JITTER)
    seconds = min(wait + extra, remaining)
    if frees_early:
        seconds = min(seconds, MAX_BLOCK)
    return max(seconds, MIN_PAUSE)
