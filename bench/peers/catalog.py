"""The systems the peer benchmark runs, as data (stdlib only, imported by every part).

Each :class:`System` is one row of the table: which virtual environment it runs in and what goes
into it (from PyPI; Ruby Sidekiq from Debian's packages), the worker command line (each
system's documented default worker command, logging at WARNING: one process, or one per CPU
where that is the system's default, as for Celery, Dramatiq and henchman), the module under
``jobs/`` that holds its no-op job and its client calls, and one line saying what is default and
what is not.
Placeholders in ``worker`` and ``env``: ``{bin}`` the environment's bin directory, ``{python}`` its
interpreter, ``{jobs}`` the ``jobs/`` directory, ``{url}`` the benchmark server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class System:
    """One row of the peer table."""

    name: str
    #: The virtual environment under ``.venvs/`` (rows of one library share one); ``None`` for a
    #: system that needs none (Ruby).
    venv: str | None
    #: What ``pip install`` puts in the environment; ``HENCHMAN`` means this checkout.
    pip: tuple[str, ...]
    #: The module in ``jobs/`` with the job and the client calls.
    module: str
    worker: tuple[str, ...]
    settings: str
    #: Distributions whose versions are reported.
    versions: tuple[str, ...] = ()
    #: Debian packages the system needs (installed with apt-get when missing and possible).
    apt: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    #: False for rows that are there only to make a comparison fair (not the system's defaults).
    default: bool = True
    #: Rows compared by the ratio lines (``henchman``, ``sidekiq`` ...).
    family: str = ""
    #: Command printing a JSON object of versions, for systems whose versions pip cannot tell.
    version_cmd: tuple[str, ...] = field(default=())


#: Placeholder in ``pip`` for the henchman checkout being measured.
HENCHMAN = "<checkout>"

_RUBY_VERSIONS = (
    "ruby", "-rjson", "-e",
    "require 'sidekiq'; puts({'sidekiq' => Sidekiq::VERSION, 'ruby' => RUBY_VERSION, "
    "'deb ruby-sidekiq' => `dpkg-query -W -f='${Version}' ruby-sidekiq`}.to_json)",
)  # fmt: skip

SYSTEMS: tuple[System, ...] = (
    System(
        "henchman", "henchman", (HENCHMAN,), "henchman_jobs",
        ("{bin}/henchman", "run", "-r", "henchman_jobs", "-q", "bench", "--log-level", "warning"),
        "1 `henchman run` with every default: one worker process per usable CPU (2 here) under "
        "its supervisor, 10 threads each, cpu_affinity auto (a process's threads share one CPU "
        "while its jobs are short), reliable fetch, stats and metrics middleware; --log-level "
        "warning like the peers; enqueue with perform_async, bulk with perform_bulk",
        versions=("henchman", "redis", "hiredis"), env=(("REDIS_URL", "{url}"),),
        family="henchman",
    ),
    System(
        "henchman -P 1", "henchman", (HENCHMAN,), "henchman_jobs",
        ("{bin}/henchman", "run", "-r", "henchman_jobs", "-q", "bench", "--log-level", "warning",
         "-P", "1"),
        "NOT default: as henchman with -P 1, one worker process (10 threads), to compare one "
        "process with one process",
        versions=("henchman", "redis", "hiredis"), env=(("REDIS_URL", "{url}"),),
        default=False, family="henchman",
    ),
    System(
        "henchman-unpinned", "henchman", (HENCHMAN,), "henchman_jobs",
        ("{bin}/henchman", "run", "-r", "henchman_jobs", "-q", "bench", "--log-level", "warning",
         "--cpu-affinity", "off"),
        "NOT default: as henchman with --cpu-affinity off (threads left to the kernel, never "
        "pinned), to compare with sidekiq (ruby), which is unpinned too",
        versions=("henchman", "redis", "hiredis"), env=(("REDIS_URL", "{url}"),),
        default=False, family="henchman",
    ),
    System(
        "sidekiq (ruby)", None, (), "sidekiq_jobs",
        ("sidekiq", "-r", "{jobs}/sidekiq/noop_job.rb", "-q", "default"),
        "1 `sidekiq` process (Debian's ruby-sidekiq), default concurrency 10 threads, logger at "
        "WARN; enqueue from Ruby with perform_async, bulk with Sidekiq::Client.push_bulk",
        apt=("ruby", "ruby-sidekiq"), env=(("REDIS_URL", "{url}"),), family="sidekiq",
        version_cmd=_RUBY_VERSIONS,
    ),
    System(
        "sidekiq-pinned", None, (), "sidekiq_jobs",
        ("taskset", "-c", "0", "sidekiq", "-r", "{jobs}/sidekiq/noop_job.rb", "-q", "default"),
        "NOT default: as sidekiq (ruby) under `taskset -c 0` (all its threads on one CPU, what "
        "henchman's cpu_affinity auto does while jobs are short)",
        apt=("ruby", "ruby-sidekiq"), env=(("REDIS_URL", "{url}"),), default=False,
        family="sidekiq", version_cmd=_RUBY_VERSIONS,
    ),
    System(
        "celery", "celery", ("celery[redis]",), "celery_jobs",
        ("{bin}/celery", "-A", "celery_jobs", "worker", "--loglevel=WARNING"),
        "1 `celery worker` with its defaults (prefork pool, one child per CPU, prefetch "
        "multiplier 4), no result backend; enqueue with task.delay()",
        versions=("celery", "kombu", "redis"),
    ),
    System(
        "rq", "rq", ("rq",), "rq_jobs",
        ("{bin}/rq", "worker", "--url", "{url}", "--quiet", "bench"),
        "1 `rq worker` (the default Worker forks a work horse per job), --quiet; enqueue with "
        "Queue.enqueue(), bulk with Queue.enqueue_many()",
        versions=("rq", "redis"),
    ),
    System(
        "rq SimpleWorker", "rq", ("rq",), "rq_jobs",
        ("{bin}/rq", "worker", "--url", "{url}", "--quiet", "--worker-class",
         "rq.worker.SimpleWorker", "bench"),
        "NOT default: `rq worker` with SimpleWorker (jobs run in the worker process, no fork)",
        versions=("rq", "redis"), default=False,
    ),
    System(
        "dramatiq", "dramatiq", ("dramatiq[redis]",), "dramatiq_jobs",
        ("{bin}/dramatiq", "dramatiq_jobs"),
        "`dramatiq` with its defaults (one process per CPU, 8 threads each, default "
        "middleware); enqueue with actor.send()",
        versions=("dramatiq", "redis"),
    ),
    System(
        "arq", "arq", ("arq",), "arq_jobs",
        ("{bin}/arq", "arq_jobs.Settings", "--custom-log-dict", "arq_jobs.LOGGING"),
        "1 `arq` worker with its defaults (max_jobs 10, poll_delay 0.5 s), arq's logger at "
        "WARNING; enqueue with ArqRedis.enqueue_job()",
        versions=("arq", "redis"),
    ),
    System(
        "huey", "huey", ("huey", "redis"), "huey_jobs",
        ("{bin}/huey_consumer", "huey_jobs.huey", "--quiet"),
        "1 `huey_consumer` with its defaults (1 worker thread, blocking BRPOP), --quiet; "
        "enqueue by calling the task",
        versions=("huey", "redis"),
    ),
    System(
        "saq", "saq", ("saq[redis]", "typing_extensions"), "saq_jobs",
        ("{bin}/saq", "saq_jobs.settings"),
        "1 `saq` worker process, default concurrency 10; enqueue with Queue.enqueue()",
        versions=("saq", "redis"),
    ),
    System(
        "taskiq", "taskiq", ("taskiq", "taskiq-redis"), "taskiq_jobs",
        ("{bin}/taskiq", "worker", "taskiq_jobs:broker", "--log-level", "WARNING"),
        "`taskiq worker` with its defaults (2 worker processes), RedisStreamBroker (acks), "
        "default max-async-tasks; enqueue with task.kiq()",
        versions=("taskiq", "taskiq-redis", "redis"),
    ),
    System(
        "redis-py loop (reference)", "reference", ("redis", "hiredis"), "reference_jobs",
        ("{python}", "-m", "reference_jobs"),
        "not a job system: one thread, BRPOP + json.loads + call; the floor of a Python worker",
        versions=("redis",),
    ),
)  # fmt: skip


def select(
    systems: Sequence[System], only: Iterable[str] = (), skip: Iterable[str] = ()
) -> list[System]:
    """The systems named in ``only`` (all if empty) minus those in ``skip``, in catalog order;
    an unknown name is an error naming the known ones."""
    wanted, dropped = set(only), set(skip)
    known = [s.name for s in systems]
    unknown = sorted((wanted | dropped) - set(known))
    if unknown:
        raise ValueError(
            f"unknown system {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
        )
    return [s for s in systems if (not wanted or s.name in wanted) and s.name not in dropped]
