"""Named capsules in configuration: every source's spelling becomes :class:`CapsuleSpec` values.

Spellings (the default capsule is the top-level ``queues`` / ``concurrency`` /
``async_concurrency``, exactly as without capsules)::

    # pyproject.toml
    [tool.henchman.capsules.unsafe]
    queues = ["unsafe"]          # or [["unsafe", 3], "other"] for weights
    concurrency = 1
    async_concurrency = 5        # optional; default: the process's async_concurrency

    # config/henchman.yml (Sidekiq 7 style, leading ':' allowed)
    capsules:
      unsafe:
        queues: [unsafe]
        concurrency: 1

    # flags and environment
    henchman run --capsule unsafe:unsafe:1 --capsule bulk:imports,exports:4
    HENCHMAN_CAPSULES="unsafe:unsafe:1;bulk:imports,exports:4"

Each problem is one :class:`~henchman.errors.ConfigError` line naming the capsule and the source.
Checks that look at the whole process (a queue in two capsules) are in
:mod:`henchman.composition`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from henchman.config import CapsuleSpec, QueueSpec
from henchman.errors import ConfigError

__all__ = ["parse_capsules"]

#: Turns a queue list in any spelling into specs (``config_loader``'s, passed in to avoid a cycle).
QueueParser = Callable[[Any, str], "tuple[QueueSpec, ...] | None"]

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_FIELDS = ("queues", "concurrency", "async_concurrency")
FLAG_FORMAT = "NAME:QUEUE[,QUEUE...]:CONCURRENCY"


def parse_capsules(value: Any, source: str, parse_queues: QueueParser) -> tuple[CapsuleSpec, ...]:
    """Capsules from a mapping (TOML/YAML), flag strings (a list) or an env string (``;``)."""
    if isinstance(value, str):
        value = [item for item in value.split(";") if item.strip()]
    if isinstance(value, Mapping):
        specs = [_from_mapping(name, body, source, parse_queues) for name, body in value.items()]
    elif isinstance(value, list | tuple):
        specs = [
            item if isinstance(item, CapsuleSpec) else _from_flag(item, source, parse_queues)
            for item in value
        ]
    else:
        raise ConfigError(
            f"setting 'capsules' in {source} must be a mapping of capsule name -> "
            f"{{queues, concurrency}}, got {type(value).__name__}"
        )
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"capsule {name!r} is defined twice in {source}")
    return tuple(specs)


def _from_mapping(name: Any, body: Any, source: str, parse_queues: QueueParser) -> CapsuleSpec:
    name = _check_name(name.removeprefix(":") if isinstance(name, str) else name, source)
    if not isinstance(body, Mapping):
        raise ConfigError(
            f"capsule {name!r} in {source} must be a mapping with queues and concurrency"
        )
    fields = {str(k).removeprefix(":"): v for k, v in body.items()}
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in capsule {name!r} in {source} "
            f"(capsules take {', '.join(_FIELDS)})"
        )
    if "queues" not in fields or "concurrency" not in fields:
        raise ConfigError(f"capsule {name!r} in {source} needs both queues and concurrency")
    queues = parse_queues(fields["queues"], f"{source} (capsule {name!r})")
    if not queues:
        raise ConfigError(f"capsule {name!r} in {source} must list at least one queue")
    threads = _count(fields["concurrency"], "concurrency", name, source)
    async_value = fields.get("async_concurrency")
    slots = None if async_value is None else _count(async_value, "async_concurrency", name, source)
    return CapsuleSpec(name, queues, threads, slots)


def _from_flag(text: Any, source: str, parse_queues: QueueParser) -> CapsuleSpec:
    parts = str(text).split(":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise ConfigError(f"invalid capsule {str(text)!r} in {source} (expected {FLAG_FORMAT})")
    name = _check_name(parts[0].strip(), source)
    queue_names = [q.strip() for q in parts[1].split(",") if q.strip()]
    queues = parse_queues(queue_names, f"{source} (capsule {name!r})")
    if not queues:
        raise ConfigError(f"capsule {name!r} in {source} must list at least one queue")
    return CapsuleSpec(name, queues, _count(parts[2].strip(), "concurrency", name, source))


def _check_name(name: Any, source: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid capsule name {name!r} in {source} (letters, digits, '-' and '_' only)"
        )
    if name == "default":
        raise ConfigError(
            f"capsule name 'default' in {source} is reserved: the default capsule is set by the "
            "top-level queues and concurrency"
        )
    return name


def _count(value: Any, field: str, name: str, source: str) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number < 1:
        raise ConfigError(
            f"{field} of capsule {name!r} in {source} must be an integer of at least 1, got "
            f"{value!r} (a capsule without workers would leave its queues' jobs waiting forever)"
        )
    return number
