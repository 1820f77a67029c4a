"""Settings: one frozen value passed to whatever needs it (SPEC §1.2).

Sources, later wins: built-in defaults -> ``pyproject.toml [tool.henchman]`` or a YAML file
(``-C``, default ``config/henchman.yml``) with optional per-environment sections -> environment
(``HENCHMAN_*``, ``REDIS_URL``) -> CLI flags. Loading and validation live in
:mod:`henchman.config_loader`; this module only defines the value and its defaults, so importing it
reads nothing from the environment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue a capsule serves, with its weight (0 = strict ordering, SPEC §3)."""

    name: str
    weight: int = 0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a henchman client, worker or CLI command needs to know.

    Durations are seconds (float). ``redis_url=None`` means "the embedded server under ``home``".
    """

    redis_url: str | None = None
    home: Path = Path(".henchman")
    environment: str = "development"

    # worker (SPEC §1.3, §4)
    queues: tuple[QueueSpec, ...] = (QueueSpec("default"),)
    concurrency: int = 10
    async_concurrency: int = 100
    timeout: float = 25.0
    tag: str | None = None
    labels: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    processes: int = 1
    log_level: str = "INFO"
    json_logs: bool = False
    #: ``off`` (the kernel places threads), ``auto`` (opt-in: one CPU, moved or released as the
    #: load asks), or a CPU list ``0,2-3``; see :mod:`henchman.server.placement`.
    cpu_affinity: str = "off"

    # failures (SPEC §5)
    max_retries: int = 25
    dead_max_jobs: int = 10_000
    dead_timeout: float = 180 * 24 * 3600.0
    backtrace_lines: int = 0

    # timing of the background loops (SPEC §4.4, §5a, §6.2); small values make tests fast
    heartbeat_interval: float = 10.0
    process_ttl: float = 60.0
    poll_interval_average: float | None = None
    orphan_check_interval: float = 60.0
    poison_pill_limit: int = 3
    fetch_timeout: float = 2.0
    redis_timeout: float = 5.0
    placement_interval: float = 2.0

    # client (SPEC §6.3)
    reliable_push: bool = True
    push_buffer_size: int = 1000

    #: Where iterable jobs' temp files wait between runs (SPEC §7.6): ``None`` = ``<home>/offload``,
    #: ``file:///path``, or ``s3://bucket/prefix?endpoint_url=...``.
    offload_url: str | None = None

    #: Keys found in a config file that henchman does not use itself (kept for plugins).
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (the value itself is immutable)."""
        return dataclasses.replace(self, **changes)


#: Names of the settings a file, the environment or flags may set.
SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings) if f.name != "extra")
