"""How many CPUs this process may use: its affinity mask and its container's CPU quota.

``processes = "auto"`` (the default) runs one worker process per usable CPU. The affinity mask
(``taskset``, a cpuset) says which CPUs the kernel may run us on; a container's CPU quota
(cgroup ``cpu.max``, or ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` on cgroup v1) says how much
time we get on them. A pod limited to 2 CPUs on a 64-CPU node sees all 64 in its mask, so
counting the mask alone would start 64 processes that share 2 CPUs of time. The parsers are
pure; :func:`machine_cpus` reads the files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "cgroup_paths",
    "cgroup_quota",
    "machine_cpus",
    "quota_from_cfs",
    "quota_from_cpu_max",
    "usable_cpus",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def quota_from_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max`` (``"200000 100000"``, ``"max 100000"``) -> CPUs (2.0), or None."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def quota_from_cfs(quota_text: str, period_text: str) -> float | None:
    """cgroup v1 ``cpu.cfs_quota_us`` (``-1``: none) and ``cpu.cfs_period_us`` -> CPUs, or None."""
    try:
        quota, period = int(quota_text.strip()), int(period_text.strip())
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_paths(proc_self_cgroup: str) -> tuple[str | None, str | None]:
    """This process's cgroup v2 path and v1 ``cpu`` controller path from ``/proc/self/cgroup``."""
    unified: str | None = None
    cpu_v1: str | None = None
    for line in proc_self_cgroup.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and controllers == "":
            unified = path
        elif "cpu" in controllers.split(","):
            cpu_v1 = path
    return unified, cpu_v1


def _ancestors(base: Path, path: str) -> list[Path]:
    """``base/a/b``, ``base/a``, ``base``: a limit anywhere above us applies to us too."""
    parts = [p for p in path.split("/") if p]
    return [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def cgroup_quota(
    root: Path = CGROUP_ROOT, read: Callable[[Path], str | None] = _read
) -> float | None:
    """The smallest CPU quota on this process's cgroup path (v2, else v1), or None (no limit)."""
    found: list[float] = []
    unified, cpu_v1 = cgroup_paths(read(Path("/proc/self/cgroup")) or "")
    if unified is not None:
        for directory in _ancestors(root, unified):
            text = read(directory / "cpu.max")
            quota = quota_from_cpu_max(text) if text is not None else None
            if quota is not None:
                found.append(quota)
    if cpu_v1 is not None and not found:
        for directory in _ancestors(root / "cpu", cpu_v1):
            quota_text = read(directory / "cpu.cfs_quota_us")
            period_text = read(directory / "cpu.cfs_period_us")
            if quota_text is not None and period_text is not None:
                quota = quota_from_cfs(quota_text, period_text)
                if quota is not None:
                    found.append(quota)
    return min(found) if found else None


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (``os.cpu_count()`` where there is no mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def usable_cpus(affinity: int, quota: float | None) -> int:
    """CPUs a process may use: its affinity mask, capped by its container's quota rounded up (a
    quota of 1.5 CPUs does the work of two processes at times); at least 1."""
    count = affinity if quota is None else min(affinity, math.ceil(quota))
    return max(1, count)


def machine_cpus() -> int:
    """:func:`usable_cpus` for this process, read from its affinity mask and cgroup files."""
    return usable_cpus(affinity_cpus(), cgroup_quota())
