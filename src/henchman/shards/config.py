"""The ``shards`` setting: queue name -> Redis URL, checked the way ``redis_url`` is.

Accepted from a TOML table, a YAML mapping, a Python ``dict`` and the ``HENCHMAN_SHARDS``
variable (``QUEUE=URL`` entries separated by ``;``, like ``HENCHMAN_CAPSULES``: a sentinel URL
may hold commas). The key ``"*"`` names the default shard: it is the ``redis_url`` server, so the
two must agree when both are given; it is folded into ``redis_url`` and never kept as a route.
Every problem is one :class:`~henchman.errors.ConfigError` line; URLs are never echoed (they may
carry a password).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from henchman.errors import ConfigError
from henchman.queue_names import queue_name_problem

#: The key that names every queue without a route of its own.
DEFAULT_KEY = "*"

#: Checks one URL; raises ConfigError that starts with the prefix it is given.
CheckUrl = Callable[[str, str], None]


def parse_shards(value: Any, source: str, check_url: CheckUrl) -> dict[str, str]:
    """The checked ``{queue or "*": url}`` mapping from a config value (mapping or env text)."""
    prefix = f"setting 'shards' in {source}"
    if isinstance(value, str):
        value = _parse_env_text(value, prefix)
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{prefix} must be a mapping of queue name to Redis URL, got {type(value).__name__}"
        )
    routes: dict[str, str] = {}
    for queue, given in value.items():
        problem = queue_name_problem(queue) if queue != DEFAULT_KEY else None
        if problem is not None:
            raise ConfigError(f"{prefix}: invalid queue name {queue!r} (a queue name {problem})")
        if not isinstance(given, str) or not given.strip():
            raise ConfigError(f"{prefix}: the URL of queue {queue!r} must be a non-empty string")
        url = given.strip()
        check_url(url, f"{prefix}: the URL of queue {queue!r}")
        routes[queue] = url
    return routes


def _parse_env_text(text: str, prefix: str) -> dict[str, str]:
    routes: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        queue, eq, url = entry.partition("=")
        if not eq or not queue.strip():
            raise ConfigError(f"{prefix}: expected QUEUE=URL entries separated by ';'")
        if queue.strip() in routes:
            raise ConfigError(f"{prefix}: queue {queue.strip()!r} is given twice")
        routes[queue.strip()] = url.strip()
    return routes


def fold_default(shards: Mapping[str, str], redis_url: str | None) -> dict[str, Any]:
    """Settings fields to change so ``"*"`` becomes ``redis_url`` and routes to the default
    server disappear; ConfigError if ``"*"`` and ``redis_url`` name different servers."""
    default = shards.get(DEFAULT_KEY)
    changed: dict[str, Any] = {}
    if default is not None:
        if redis_url is not None and redis_url != default:
            raise ConfigError(
                "setting 'shards': its '*' entry and redis_url name different servers; the "
                "default shard is the redis_url server, so give it once"
            )
        if redis_url is None:
            changed["redis_url"] = redis_url = default
    routes = {q: u for q, u in shards.items() if q != DEFAULT_KEY and u != redis_url}
    if routes != dict(shards):
        changed["shards"] = routes
    return changed
