"""``--max-memory-mb``: reading a child's resident memory and deciding when it is too big."""

from __future__ import annotations

import os
import subprocess


def over_memory(rss_kb: int, limit_mb: int | None) -> bool:
    """Whether a child using ``rss_kb`` KB must be replaced under ``--max-memory-mb``."""
    return limit_mb is not None and rss_kb > limit_mb * 1024


def rss_of(pid: int) -> int:
    """Resident set size of process ``pid`` in KB; 0 if unknown (the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(
            ["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return 0
    return int(out) if out.isdigit() else 0
