"""Build a :class:`~henchman.config.Settings` from a file, the environment and flags.

Precedence, later wins::

    Settings() defaults
      -> file: the given ``config_file`` (``.yml``/``.yaml``, or ``.toml`` read at [tool.henchman]),
               else ``config/henchman.yml`` under ``cwd``, else ``pyproject.toml [tool.henchman]``
      -> the file's section for the selected environment (``production:``, ``development:``, ...)
      -> environment variables
      -> flags (a mapping of setting name -> value; ``None`` or an empty list means "not given")

The environment is the ``environment`` argument, else ``flags["environment"]``, else
``HENCHMAN_ENV``, else ``development``; the file cannot set it, since it selects the section.
Sections are the top-level mappings named ``production``, ``development``, ``staging``, ``test`` or
the selected environment; all sections are validated, only the selected one applies. Keys may carry
one leading ``:`` like Sidekiq's ``sidekiq.yml`` (``:concurrency: 5``). Plugin settings go under an
``extra:`` mapping and land in ``Settings.extra``; any other unknown key is an error.

Environment variables: ``HENCHMAN_<NAME>`` for every setting (``HENCHMAN_CONCURRENCY``, ...),
``REDIS_URL`` as a fallback for ``HENCHMAN_REDIS_URL``. An empty variable counts as unset. List
settings are comma-separated; ``HENCHMAN_QUEUES`` writes weights after a colon
(``critical:3,default``) because the comma already separates queues. ``HENCHMAN_CAPSULES``
holds ``NAME:QUEUE[,QUEUE...]:CONCURRENCY`` entries separated by ``;``
(see :mod:`henchman.capsule_config`).

Every problem raises :class:`~henchman.errors.ConfigError` with one line naming the key and the
source, e.g. ``setting 'concurrency' in HENCHMAN_CONCURRENCY must be an integer, got 'ten'``.
Nothing here touches Redis; the only I/O is reading the config file.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import UnionType
from typing import Any

from henchman.capsule_config import parse_capsules
from henchman.composition import check_settings as check_composition
from henchman.config import SETTING_NAMES, CapsuleSpec, QueueSpec, Settings
from henchman.errors import ConfigError
from henchman.queue_names import queue_name_problem

__all__ = ["check_settings", "load_settings", "parse_queue", "redis_url_from_env"]

DEFAULT_YAML = Path("config/henchman.yml")
PYPROJECT = Path("pyproject.toml")
ENVIRONMENT_SECTIONS = frozenset({"production", "development", "staging", "test"})
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_LEVELS = {name: name for name in _LEVELS} | {"WARN": "WARNING", "FATAL": "CRITICAL"}
REDIS_URL_SCHEMES = (
    "redis",
    "rediss",
    "unix",
    "redis+sentinel",
    "rediss+sentinel",
    "redis+cluster",
    "rediss+cluster",
)
#: The largest queue weight: a weighted fetch draws from a list with one entry per unit of
#: weight, and weights are relative, so 1,000 already expresses any useful ratio.
MAX_QUEUE_WEIGHT = 1000

#: Smallest accepted value per numeric setting; floats in _POSITIVE must be strictly above 0.
_MINIMUM = {
    "concurrency": 1,
    "async_concurrency": 1,
    "processes": 1,
    "poison_pill_limit": 1,
    "push_buffer_size": 1,
    "push_wait_replicas": 0,
    "timeout": 0,
    "max_retries": 0,
    "dead_max_jobs": 0,
    "dead_timeout": 0,
    "backtrace_lines": 0,
    "max_memory_mb": 1,
    "health_port": 0,
    "encryption_active_version": 1,
}
_POSITIVE = frozenset(
    {
        "heartbeat_interval",
        "process_ttl",
        "poll_interval_average",
        "orphan_check_interval",
        "fetch_timeout",
        "redis_timeout",
        "placement_interval",
        "result_ttl",
        "leader_renew_interval",
        "leader_lease",
        "leader_check_interval",
        "push_wait_timeout",
    }
)
# CLI spellings that differ from the setting name
_FLAG_NAMES = {"queues": "--queue", "capsules": "--capsule"}
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_HINTS = typing.get_type_hints(Settings)


def parse_queue(text: str, source: str) -> QueueSpec:
    """``"critical,3"`` -> ``QueueSpec("critical", 3)``; ``"default"`` -> weight 0 (unweighted)."""
    return _parse_queue_text(text, source, sep=",")


def redis_url_from_env(env: Mapping[str, str]) -> str | None:
    """``HENCHMAN_REDIS_URL`` (wins) or ``REDIS_URL``, validated like :func:`load_settings` does
    (a :class:`ConfigError` names the variable); None when neither is set."""
    for var in ("HENCHMAN_REDIS_URL", "REDIS_URL"):
        if env.get(var):
            return str(_coerce("redis_url", env[var], var))
    return None


def load_settings(
    *,
    config_file: Path | None = None,
    environment: str | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
    flag_source: Callable[[str], str] | None = None,
) -> Settings:
    """Merge defaults, file, environment and flags (see the module docstring) and validate them.

    Reads only the config file; ``env`` defaults to an empty mapping (pass ``os.environ``).
    ``flag_source(name)`` names where a flag came from in messages (default ``--name``), for
    callers whose overrides are not command-line flags (Django's ``settings.HENCHMAN``).
    """
    env = env or {}
    flags = {k: v for k, v in (flags or {}).items() if v is not None and v not in ((), [])}
    env_name = _select_environment(environment, flags.pop("environment", None), env)
    values: dict[str, Any] = {"environment": env_name}
    extra: dict[str, Any] = {}
    found = _find_file(config_file, cwd or Path.cwd())
    if found is not None:
        raw, source = _read_file(*found)
        for section in _split_sections(raw, source, env_name):
            extra.update(section.pop("extra", {}))
            values.update(section)
    for name, value, source in _env_entries(env):
        values[name] = _coerce(name, value, source)
    for name, value in flags.items():
        source = (
            flag_source(name)
            if flag_source is not None
            else _FLAG_NAMES.get(name, f"--{name.replace('_', '-')}")
        )
        _check_known(name, source)
        values[name] = _coerce(name, value, source)
    settings = Settings(**values, extra=extra)
    check_composition(settings)
    return settings


def check_settings(settings: Settings) -> dict[str, Any]:
    """Check every field of a directly built ``Settings`` with the loader's rules; return the
    fields whose normalised value differs (e.g. ``log_level="info"`` -> ``"INFO"``).

    Raises :class:`ConfigError` naming the first bad field as ``Settings(name=...)``. Fields of a
    type the loader does not read from files (added by features with their own checks) are left
    to their owners.
    """
    changed: dict[str, Any] = {}
    for name in sorted(SETTING_NAMES):
        value = getattr(settings, name)
        if value is None or _plain_hint(name) not in _EXPECTED:
            continue
        checked = _coerce(name, value, f"Settings({name}=...)")
        if checked != value or type(checked) is not type(value):
            changed[name] = checked
    if _cluster_mode(settings.redis_url, settings.cluster):
        if settings.push_wait_replicas:
            raise ConfigError(
                "setting 'push_wait_replicas' is not available in cluster mode: WAIT covers the "
                "writes of one connection to one master, and a cluster's pushes go to many"
            )
        if not settings.cluster:
            changed["cluster"] = True  # a redis+cluster:// URL turns cluster mode on
        if settings.shards:
            raise ConfigError(
                "setting 'shards' is not available in cluster mode: a cluster already spreads "
                "queues over its masters"
            )
    if settings.shards:
        from henchman.shards.config import fold_default

        changed.update(
            fold_default(changed.get("shards", settings.shards), settings.redis_url)
        )
    return changed


def _cluster_mode(url: str | None, cluster: bool) -> bool:
    """Whether these settings select Redis Cluster mode; :class:`ConfigError` when ``cluster``
    is on but the URL cannot name a cluster (no URL, a sentinel or unix URL, a database)."""
    from henchman.cluster_url import is_cluster_url

    if url is not None and is_cluster_url(url):
        return True
    if not cluster:
        return False
    if url is None:
        raise ConfigError(
            "setting 'cluster' is true but no redis_url names a cluster node: the embedded "
            "server is not a cluster (set REDIS_URL=redis+cluster://host:port,...)"
        )
    from henchman.cluster_url import parse_cluster_url

    if url.partition("://")[0].lower() in ("redis+sentinel", "rediss+sentinel"):
        raise ConfigError(
            "setting 'cluster' is true but redis_url is a Sentinel URL: use one or the other"
        )
    try:
        parse_cluster_url(url)
    except ConfigError as exc:
        raise ConfigError(f"setting 'cluster' is true but redis_url does not fit: {exc}") from None
    return True


def _plain_hint(name: str) -> Any:
    hint = _HINTS.get(name)
    if isinstance(hint, UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _select_environment(argument: str | None, flag: Any, env: Mapping[str, str]) -> str:
    for value, source in ((argument, "--env"), (flag, "--env"), (env.get("HENCHMAN_ENV"), "")):
        if value is not None and value != "":
            return str(_coerce("environment", value, source or "HENCHMAN_ENV"))
    return "development"


# -- file -----------------------------------------------------------------------------------------


def _find_file(config_file: Path | None, cwd: Path) -> tuple[Path, str, bool] | None:
    """(path, source label, whether a missing [tool.henchman] table is an error) or None."""
    if config_file is not None:
        path = cwd / config_file
        if not path.is_file():
            raise ConfigError(f"config file '{config_file}' not found (given with --config)")
        return path, str(config_file), True
    if (cwd / DEFAULT_YAML).is_file():
        return cwd / DEFAULT_YAML, str(DEFAULT_YAML), True
    if (cwd / PYPROJECT).is_file():
        return cwd / PYPROJECT, f"{PYPROJECT} [tool.henchman]", False
    return None


def _henchman_table(text: str, source: str) -> Any:
    """``[tool.henchman]`` of a TOML text, or ``None``. A text that never says "henchman" has no
    such table: most projects' pyproject.toml, read without importing and running a TOML parser
    (which would add milliseconds to the first push of every process)."""
    if "henchman" not in text:
        return None
    import tomllib

    try:
        return tomllib.loads(text).get("tool", {}).get("henchman")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse {source}: {exc}") from exc


def _read_file(path: Path, source: str, required: bool) -> tuple[Mapping[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {source}: {exc}") from exc
    if path.suffix in (".yml", ".yaml"):
        import yaml  # only when a YAML file is used: PyYAML costs a worker ~3 MB of RSS

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"cannot parse {source}: {problem}{where}") from exc
        data = {} if data is None else data
    elif path.suffix == ".toml":
        data = _henchman_table(text, source)
        if data is None:
            if required:
                raise ConfigError(f"no [tool.henchman] table in {source}")
            data = {}
        elif not source.endswith("]"):
            source = f"{source} [tool.henchman]"
    else:
        raise ConfigError(f"config file {source} must end in .yml, .yaml or .toml")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must hold a mapping of settings, got {_show(data)}")
    return data, source


def _split_sections(raw: Mapping[Any, Any], source: str, env_name: str) -> Iterator[dict[str, Any]]:
    """Yield the validated top level, then the selected environment's section (others checked)."""
    top = _strip_keys(raw, source)
    section_names = ENVIRONMENT_SECTIONS | {env_name}
    sections = {k: top.pop(k) for k in list(top) if k in section_names and k not in SETTING_NAMES}
    yield _validate_section(top, source)
    for name, body in sections.items():
        label = f"{source} ({name})"
        if not isinstance(body, Mapping):
            raise ConfigError(f"section '{name}' in {source} must be a mapping, got {_show(body)}")
        checked = _validate_section(_strip_keys(body, label), label)
        if name == env_name:
            yield checked


def _strip_keys(raw: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """Drop one leading ':' from each key (Sidekiq YAML style); reject odd or repeated keys."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigError(f"setting names must be strings, got {_show(key)} in {source}")
        name = key.removeprefix(":")
        if name in out:
            raise ConfigError(f"setting '{name}' is given twice in {source}")
        out[name] = value
    return out


def _validate_section(section: dict[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in section.items():
        if name == "extra":
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ConfigError(
                    f"setting 'extra' in {source} must be a mapping, got {_show(value)}"
                )
            out[name] = dict(value)
            continue
        _check_known(name, source, SETTING_NAMES | ENVIRONMENT_SECTIONS)
        if name == "environment":
            raise ConfigError(
                f"setting 'environment' cannot be set in {source}; use -e/--env or HENCHMAN_ENV"
            )
        out[name] = _coerce(name, value, source)
    return out


# -- environment ----------------------------------------------------------------------------------


def _env_entries(env: Mapping[str, str]) -> Iterator[tuple[str, Any, str]]:
    """(setting, raw value, variable name) for each non-empty variable, lists already split."""
    for name in sorted(SETTING_NAMES - {"environment"}):
        var = f"HENCHMAN_{name.upper()}"
        if name == "redis_url" and not env.get(var) and env.get("REDIS_URL"):
            var = "REDIS_URL"
        text = env.get(var, "")
        if not text:
            continue
        if name == "queues":
            yield name, [_parse_env_queue(item, var) for item in _split(text)], var
        elif _HINTS[name] == tuple[str, ...]:
            yield name, _split(text), var
        else:
            yield name, text, var


def _parse_env_queue(item: str, var: str) -> QueueSpec:
    if item.isdigit():  # "critical,3" split at the comma: say how weights are written here
        raise ConfigError(f"invalid queue {item!r} in {var} (write weights as critical:3)")
    return _parse_queue_text(item, var, sep=":")


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


# -- coercion and validation ----------------------------------------------------------------------


def _check_known(name: str, source: str, suggest: frozenset[str] = SETTING_NAMES) -> None:
    """Reject a name that is not a setting, suggesting the closest of ``suggest``."""
    if name not in SETTING_NAMES:
        import difflib  # only to word an error

        close = difflib.get_close_matches(name, sorted(suggest - {name}), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"unknown setting '{name}' in {source}{hint}")


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert ``value`` to the type of ``Settings.<name>`` and check its range."""
    hint = _HINTS[name]
    if name in ("periodic", "shards"):  # checked by their own parsers
        return _to_periodic(value, source) if name == "periodic" else _to_shards(value, source)
    if isinstance(hint, UnionType):  # only ``X | None`` occurs in Settings
        if value is None or (name == "processes" and _is_auto(value)):
            return None  # processes: None is auto, one per usable CPU (counted at start)
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if name == "cpu_affinity" and isinstance(value, bool):  # YAML reads `off` as false
        value = "auto" if value else "off"
    if hint is bool:
        result: Any = _to_bool(value)
    elif hint is int:
        result = _to_int(value)
    elif hint is float:
        result = _to_float(value)
    elif hint is str or hint is Path:
        result = _to_str(value)
        result = Path(result) if hint is Path and result else result
    elif hint == tuple[QueueSpec, ...]:
        result = _to_queues(value, source)
    elif hint == tuple[CapsuleSpec, ...]:
        return parse_capsules(value, source, _to_queues)
    else:  # tuple[str, ...]
        result = _to_strings(value)
    if result is None or result == "":
        expected = "must be a positive integer or auto" if name == "processes" else _EXPECTED[hint]
        raise ConfigError(f"setting '{name}' in {source} {expected}, got {_show(value)}")
    return _check_range(name, result, source)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"


def _check_range(name: str, value: Any, source: str) -> Any:
    prefix = f"setting '{name}' in {source}"
    if name in _MINIMUM and value < _MINIMUM[name]:
        low = _MINIMUM[name]
        need = "must not be negative" if low == 0 else f"must be at least {low}"
        raise ConfigError(f"{prefix} {need}, got {_show(value)}")
    if name in _POSITIVE and value <= 0:
        raise ConfigError(f"{prefix} must be greater than 0, got {_show(value)}")
    if name == "log_level":
        if value.upper() not in LOG_LEVELS:
            names = ", ".join(_LEVELS)
            raise ConfigError(f"{prefix} must be one of {names}, got {_show(value)}")
        return LOG_LEVELS[value.upper()]
    if name == "redis_url":
        _check_redis_url(value, prefix)
    if name == "cpu_affinity":
        from henchman.cpu_affinity import check_setting  # only when the setting is given

        try:
            return check_setting(value)
        except ValueError as exc:
            raise ConfigError(f"{prefix} {exc}, got {_show(value)}") from None
    if name == "health_port" and value > 65535:
        raise ConfigError(f"{prefix} must be a TCP port (at most 65535), got {_show(value)}")
    if name == "queues" and len({q.name for q in value}) != len(value):
        raise ConfigError(f"{prefix} lists a queue twice")
    return value


def _check_redis_url(value: str, prefix: str) -> None:
    """The URL's scheme and shape (never echoing it: it may carry a password)."""
    scheme = value.partition("://")[0].lower()
    if scheme in ("redis+cluster", "rediss+cluster"):
        from henchman.cluster_url import parse_cluster_url  # only for a cluster URL

        try:
            parse_cluster_url(value)
        except ConfigError as exc:
            raise ConfigError(f"{prefix}: {exc}") from None
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        from henchman.sentinel_url import parse_sentinel_url  # only for a sentinel URL

        try:
            parse_sentinel_url(value)
        except ConfigError as exc:
            raise ConfigError(f"{prefix}: {exc}") from None
    if value.partition("://")[0] not in REDIS_URL_SCHEMES:
        schemes = ", ".join(f"{s}://" for s in REDIS_URL_SCHEMES)
        raise ConfigError(f"{prefix} must start with one of {schemes}")
    from henchman.urls import check_url  # only when the setting is given

    try:
        check_url(value)
    except ValueError as exc:
        raise ConfigError(f"{prefix} is not a valid Redis URL: {exc}") from None


_EXPECTED: dict[Any, str] = {
    bool: "must be true or false",
    int: "must be an integer",
    float: "must be a number",
    str: "must be a non-empty string",
    Path: "must be a non-empty path",
    tuple[QueueSpec, ...]: "must be a non-empty list of queues",
    tuple[str, ...]: "must be a list of strings",
    dict[str, str]: "must be a mapping of queue name to Redis URL",
}


def _to_periodic(value: Any, source: str) -> tuple[dict[str, Any], ...]:
    """The ``periodic`` list: each entry is validated now (cron, zone, missed), one line each."""
    from henchman.periodic_schedule import from_mapping  # only when schedules are configured

    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"setting 'periodic' in {source} must be a list of tables ([[tool.henchman.periodic]] "
            f"or a YAML list), got {_show(value)}"
        )
    entries = []
    for index, entry in enumerate(value, 1):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        from_mapping(entry, f"{name!r} ({source})" if name else f"#{index} in {source}")
        entries.append(dict(entry))
    return tuple(entries)


def _to_shards(value: Any, source: str) -> dict[str, str]:
    """The ``shards`` mapping, each URL checked like ``redis_url`` (see henchman.shards.config)."""
    from henchman.shards.config import parse_shards  # only when shards are configured

    return parse_shards(value, source, _check_shard_url)


def _check_shard_url(value: str, prefix: str) -> None:
    """A shard's URL: any Redis URL but a cluster's (a cluster spreads queues by itself)."""
    if value.partition("://")[0].lower() in ("redis+cluster", "rediss+cluster"):
        raise ConfigError(
            f"{prefix} is a Redis Cluster URL: shards route queues to separate servers, and a "
            "cluster already spreads queues over its masters (use it as redis_url instead)"
        )
    _check_redis_url(value, prefix)


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    return True if text in _TRUE else False if text in _FALSE else None


def _to_int(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _to_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; ints are accepted (``timeout: 25``)."""
    try:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        result = float(value.strip() if isinstance(value, str) else value) if ok else math.nan
    except (ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def _to_str(value: Any) -> str | None:
    if isinstance(value, str | Path):
        return str(value).strip()
    # YAML reads `tag: 2024` as an int; a number is still a sensible string.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _to_strings(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str | Path) for i in items):
        return None
    return tuple(str(i) for i in items)


def _to_queues(value: Any, source: str) -> tuple[QueueSpec, ...] | None:
    items = [value] if isinstance(value, str | QueueSpec) else value
    if not isinstance(items, list | tuple) or not items:
        return None
    queues = []
    for item in items:
        if isinstance(item, QueueSpec):
            weight = item.weight if item.weight != 0 else None  # 0 = unweighted, as in QueueSpec
            queues.append(_make_queue(item.name, weight, source, repr(item.name)))
        elif isinstance(item, str):
            queues.append(parse_queue(item, source))
        elif isinstance(item, list | tuple) and len(item) in (1, 2):  # YAML `- [critical, 3]`
            weight = item[1] if len(item) == 2 else None
            queues.append(_make_queue(item[0], weight, source, _show(list(item))))
        else:
            raise ConfigError(
                f"invalid queue {_show(item)} in {source} (expected NAME or [NAME, WEIGHT])"
            )
    return tuple(queues)


def _parse_queue_text(text: str, source: str, sep: str) -> QueueSpec:
    parts = text.split(sep)
    if len(parts) > 2:
        raise ConfigError(f"invalid queue {text!r} in {source} (expected NAME or NAME{sep}WEIGHT)")
    weight = parts[1].strip() if len(parts) == 2 else None
    return _make_queue(parts[0].strip(), weight, source, repr(text))


def _make_queue(name: Any, weight: Any, source: str, shown: str) -> QueueSpec:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"invalid queue {shown} in {source} (empty queue name)")
    problem = queue_name_problem(name)
    if problem is not None:
        raise ConfigError(f"invalid queue name {name!r} in {source} (a queue name {problem})")
    if weight is None:
        return QueueSpec(name, 0)
    number = _to_int(weight)
    if number is None or not 1 <= number <= MAX_QUEUE_WEIGHT:
        raise ConfigError(
            f"invalid queue weight {_show(weight)} for queue {name!r} in {source} "
            f"(must be an integer from 1 to {MAX_QUEUE_WEIGHT})"
        )
    return QueueSpec(name, number)


def _show(value: Any) -> str:
    """A short one-line repr for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
