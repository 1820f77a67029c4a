"""Periodic schedules: what to enqueue and when, validated once, as plain values.

A schedule comes from code (``henchman.periodic("*/5 * * * *", cleanup, tz="Asia/Tokyo")``) or
from a ``periodic`` list in the config file. Either way it is checked when it is registered and
again when a worker starts; every problem is one line naming the entry, e.g.
``periodic job 'nightly' (config/henchman.yml): unknown time zone 'Mars/Olympus' ...``.

A schedule's id names it in Redis (its high-water mark, history and pause flag): the ``name``
given, else the job name plus a short hash of the expression, zone, arguments and queue, so two
schedules of one job with different arguments never share a mark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from henchman import cron, payload as wire
from henchman.errors import ConfigError

__all__ = ["MISSED_POLICIES", "Schedule", "ScheduleBook", "from_mapping", "make_schedule"]

#: What a leader does with ticks that fell while no process led: Sidekiq skips them (logged);
#: ``run_once`` enqueues one catch-up run for all of them.
MISSED_POLICIES = ("skip", "run_once")
#: Keys a config entry may hold besides job options.
_ENTRY_KEYS = frozenset({"cron", "job", "class", "args", "queue", "tz", "missed", "name"})


@dataclass(frozen=True, slots=True)
class Schedule:
    """One periodic job: enqueue ``job`` with ``args`` and ``options`` at every run of ``cron``
    (evaluated in zone ``tz``)."""

    id: str
    cron: str
    job: str
    args: tuple[Any, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    tz: str = "UTC"
    missed: str = "skip"

    @property
    def queue(self) -> str:
        return str(self.options.get("queue", "default"))

    def to_json(self) -> bytes:
        """The definition as the leader publishes it for the CLI and the Web UI (an encrypted
        job's last argument is published as ``[encrypted]``)."""
        args = list(self.args)
        if self.options.get("encrypt") is True and args:
            args[-1] = "[encrypted]"
        return orjson.dumps(
            {"id": self.id, "cron": self.cron, "job": self.job, "args": args,
             "options": dict(self.options), "tz": self.tz, "missed": self.missed}
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes | str) -> Schedule:
        data = orjson.loads(raw)
        return cls(
            id=str(data["id"]), cron=str(data["cron"]), job=str(data["job"]),
            args=tuple(data.get("args") or ()), options=dict(data.get("options") or {}),
            tz=str(data.get("tz") or "UTC"), missed=str(data.get("missed") or "skip"),
        )  # fmt: skip


def make_schedule(
    expression: str,
    job: Any,
    args: Sequence[Any] = (),
    *,
    queue: str | None = None,
    tz: str | None = None,
    missed: str = "skip",
    name: str | None = None,
    label: str | None = None,
    **options: Any,
) -> Schedule:
    """Validate one registration and build its :class:`Schedule`; ``label`` names the entry in
    errors (default: its name or job). Raises :class:`~henchman.errors.ConfigError`."""
    job_name, job_options = _job_identity(job, label)
    where = label or repr(name or job_name)
    try:
        text = cron.validate(expression, tz)
    except cron.CronError as exc:
        raise ConfigError(f"periodic job {where}: {exc}") from None
    if missed not in MISSED_POLICIES:
        raise ConfigError(
            f"periodic job {where}: missed must be 'skip' or 'run_once', got {missed!r}"
        )
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise ConfigError(f"periodic job {where}: args must be a list, got {args!r}")
    try:
        wire.check_args(args)
        orjson.dumps(options)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ConfigError(f"periodic job {where}: {exc}") from None
    merged = {**job_options, **options}
    merged["queue"] = queue or merged.get("queue") or "default"
    zone_name = (tz or "UTC").strip()
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"periodic job {where}: name must be a non-empty string")
    schedule_id = name.strip() if name else _derived_id(job_name, text, zone_name, args, merged)
    return Schedule(schedule_id, text, job_name, tuple(args), merged, zone_name, missed)


def from_mapping(entry: Any, label: str) -> Schedule:
    """A schedule from one config entry (``{cron, job, args, queue, tz, missed, name, ...}``;
    other keys are job options such as ``retry``)."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"periodic job {label}: expected a table/mapping, got {entry!r}")
    entry = {str(k).removeprefix(":"): v for k, v in entry.items()}
    job = entry.get("job", entry.get("class"))
    if "cron" not in entry or job is None:
        raise ConfigError(f"periodic job {label}: needs 'cron' and 'job'")
    options = {k: v for k, v in entry.items() if k not in _ENTRY_KEYS}
    return make_schedule(
        entry["cron"], job, entry.get("args") or [], queue=entry.get("queue"),
        tz=entry.get("tz"), missed=entry.get("missed", "skip"), name=entry.get("name"),
        label=label, **options,
    )  # fmt: skip


def _job_identity(job: Any, label: str | None) -> tuple[str, dict[str, Any]]:
    """The wire name and default options of ``job`` (a job function, a Job class or a name)."""
    if isinstance(job, str):
        if not job.strip():
            raise ConfigError(f"periodic job {label or '?'}: job name is empty")
        return job.strip(), {}
    definition = None
    getter = getattr(job, "_definition", None)
    if callable(getter):
        definition = getter()
    elif isinstance(job, type):
        definition = job.__dict__.get("__henchman__")
    if definition is None:
        raise ConfigError(
            f"periodic job {label or repr(job)}: {job!r} is not a henchman job or a job name"
        )
    return str(definition.name), dict(definition.options)


def _derived_id(
    job: str, text: str, tz: str, args: Sequence[Any], options: Mapping[str, Any]
) -> str:
    digest = hashlib.sha1(
        orjson.dumps([text, tz, list(args), options.get("queue")]), usedforsecurity=False
    ).hexdigest()[:8]
    return f"{job}-{digest}"


class ScheduleBook:
    """The schedules registered in one app, by id (registering an id twice is an error)."""

    def __init__(self) -> None:
        self._schedules: dict[str, Schedule] = {}

    def add(self, schedule: Schedule) -> Schedule:
        if schedule.id in self._schedules:
            raise ConfigError(
                f"periodic job {schedule.id!r} is registered twice (give each a distinct name=)"
            )
        self._schedules[schedule.id] = schedule
        return schedule

    def __iter__(self) -> Any:
        return iter(list(self._schedules.values()))

    def __len__(self) -> int:
        return len(self._schedules)


def merge(code: ScheduleBook, config: Sequence[Any], source: str) -> list[Schedule]:
    """Code-registered schedules plus the config file's entries, each validated; a config entry
    with an id already used is an error naming both."""
    out = {s.id: s for s in code}
    for index, entry in enumerate(config, 1):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        label = f"{name!r} ({source})" if name else f"#{index} in {source}"
        schedule = entry if isinstance(entry, Schedule) else from_mapping(entry, label)
        if schedule.id in out:
            raise ConfigError(f"periodic job {label}: id {schedule.id!r} is registered twice")
        out[schedule.id] = schedule
    return list(out.values())
