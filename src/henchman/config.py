"""Settings: one frozen value passed to whatever needs it.

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
    """One queue a capsule serves, with its weight (0 = strict ordering)."""

    name: str
    weight: int = 0


@dataclass(frozen=True, slots=True)
class CapsuleSpec:
    """A named capsule beside the default one: its queues, in order (weights as in
    ``Settings.queues``), and its own thread and async concurrency (``None``: the process's
    ``async_concurrency``). Parsed and checked by :mod:`henchman.capsule_config`."""

    name: str
    queues: tuple[QueueSpec, ...]
    concurrency: int
    async_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a henchman client, worker or CLI command needs to know.

    Durations are seconds (float). ``redis_url=None`` means "the embedded server under ``home``".
    """

    redis_url: str | None = None
    #: Redis Cluster mode (opt-in; a ``redis+cluster://`` URL turns it on): cluster-safe key
    #: layout with per-queue hash tags. Not Sidekiq-compatible; see docs/scale.md.
    cluster: bool = False
    home: Path = Path(".henchman")
    environment: str = "development"

    # worker
    queues: tuple[QueueSpec, ...] = (QueueSpec("default"),)
    concurrency: int = 10
    async_concurrency: int = 100
    timeout: float = 25.0
    tag: str | None = None
    #: Named capsules besides the default one (which serves ``queues`` with ``concurrency``).
    capsules: tuple[CapsuleSpec, ...] = ()
    labels: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    #: Worker processes for ``henchman run``: a number, or None for ``auto`` (the default), one
    #: per CPU this process may use (:func:`henchman.cpus.machine_cpus`): one CPython process
    #: runs Python on one core at a time, so this is what uses the machine.
    processes: int | None = None
    log_level: str = "INFO"
    json_logs: bool = False
    #: ``auto`` (the default: threads share one CPU while jobs are short, every CPU after a long
    #: one), ``off`` (the kernel places threads), or a CPU list ``0,2-3``; see
    #: :mod:`henchman.server.placement`.
    cpu_affinity: str = "auto"

    # deploys: memory limit under the supervisor, health endpoint, pidfile
    #: Replace a worker process gracefully once its RSS exceeds this many MB (None: no limit).
    max_memory_mb: int | None = None
    #: Serve ``/health`` on this port (None: off).
    health_port: int | None = None
    health_host: str = "127.0.0.1"
    pidfile: Path | None = None

    # failures
    max_retries: int = 25
    dead_max_jobs: int = 10_000
    dead_timeout: float = 180 * 24 * 3600.0
    backtrace_lines: int = 0

    # timing of the background loops; small values make tests fast
    heartbeat_interval: float = 10.0
    process_ttl: float = 60.0
    poll_interval_average: float | None = None
    orphan_check_interval: float = 60.0
    poison_pill_limit: int = 3
    #: Longest block waiting for a job. Short, so an idle worker stops within half a second.
    fetch_timeout: float = 0.25
    redis_timeout: float = 5.0
    placement_interval: float = 2.0

    #: Keep every job's result this many seconds (``None``: only jobs with ``result_ttl``).
    result_ttl: float | None = None

    # client (reliable push)
    reliable_push: bool = True
    push_buffer_size: int = 1000
    #: Opt-in: after each push, ``WAIT`` for this many replicas (0: don't wait), at most
    #: ``push_wait_timeout`` seconds (see docs/scale.md).
    push_wait_replicas: int = 0
    push_wait_timeout: float = 1.0

    #: Where iterable jobs' temp files wait between runs: ``None`` = ``<home>/offload``,
    #: ``file:///path``, or ``s3://bucket/prefix?endpoint_url=...``.
    offload_url: str | None = None

    # periodic jobs and leader election: Sidekiq Enterprise's timings by default.
    #: Schedules from the config file (a ``periodic`` list of tables), validated at load.
    periodic: tuple[dict[str, Any], ...] = ()
    #: The leader renews its lease this often; the lease lasts ``leader_lease`` seconds.
    leader_renew_interval: float = 15.0
    leader_lease: float = 30.0
    #: Followers look at the lease this often, and also as soon as the lease they saw expires.
    leader_check_interval: float = 60.0

    # encryption: ``1:<base64 key>,2:<base64 key>``; the active version defaults to
    # the highest. Never shown in a repr.
    encryption_keys: str | None = field(default=None, repr=False)
    encryption_active_version: int | None = None

    #: Queue name -> Redis URL for queues kept on another server (see docs/scale.md, "Shards");
    #: every other queue lives on ``redis_url``. Not shown in a repr (URLs may hold passwords).
    shards: dict[str, str] = field(default_factory=dict, repr=False)

    #: Keys found in a config file that henchman does not use itself (kept for plugins).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Built directly (``Settings(concurrency=0)``) a value is checked with the same rules and
        # messages as one read from a file, so a bad value fails here, not later inside redis-py.
        from henchman.config_loader import check_settings

        for name, value in check_settings(self).items():
            object.__setattr__(self, name, value)  # normalised, e.g. "info" -> "INFO"

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (the value itself is immutable)."""
        return dataclasses.replace(self, **changes)


#: Names of the settings a file, the environment or flags may set.
SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings) if f.name != "extra")
