"""Startup checks: one log line each, warnings for unsafe Redis settings.

The judgements are pure functions of the server's INFO/CONFIG answers so they test without Redis.
"""

from __future__ import annotations

import logging
import platform
from typing import Any

import redis

from henchman.errors import ConfigError

log = logging.getLogger("henchman")

MIN_VERSION = (6, 2)
RECOMMENDED_VERSION = (7, 0)


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.2.4"`` -> ``(7, 2, 4)``; unparseable parts count as 0."""
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def server_warnings(info: dict[str, Any], policy: str | None, embedded: bool) -> list[str]:
    """Warnings about a server's version, eviction policy and persistence.

    Raises :class:`ConfigError` for a server older than 6.2 (henchman's scripts need 6.2).
    """
    version = str(info.get("redis_version", "0"))
    if parse_version(version) < MIN_VERSION:
        raise ConfigError(f"Redis {version} is too old: henchman needs Redis >= 6.2 (7.0+ advised)")
    warnings = []
    if parse_version(version) < RECOMMENDED_VERSION:
        warnings.append(f"Redis {version} is older than 7.0; upgrade soon")
    if policy is not None and policy != "noeviction":
        warnings.append(
            f"maxmemory-policy is {policy!r}: Redis may evict job data under memory pressure; "
            "set it to 'noeviction'"
        )
    aof = str(info.get("aof_enabled", "0")) == "1"
    rdb = info.get("rdb_saves_configured")
    if not embedded and not aof and rdb in (None, 0, "0"):
        warnings.append("persistence looks off (no AOF): a Redis restart would lose queued jobs")
    return warnings


def check_server(
    client: redis.Redis, *, embedded: bool, version: str, queues: str, concurrency: str
) -> None:
    """Log the startup lines and warnings; raise :class:`ConfigError` on an unusable server."""
    info = client.info("server")
    persistence = client.info("persistence")
    try:
        policy_reply: dict[Any, Any] = dict(client.config_get("maxmemory-policy"))
        policy = _text(policy_reply.get(b"maxmemory-policy", policy_reply.get("maxmemory-policy")))
    except redis.ResponseError:
        policy = None  # CONFIG is often disabled on managed Redis
    merged = {**info, **persistence}
    # INFO does not say whether RDB snapshots are configured; CONFIG GET save does.
    try:
        save_reply: dict[Any, Any] = dict(client.config_get("save"))
        save = _text(save_reply.get(b"save", save_reply.get("save"))) or ""
        merged["rdb_saves_configured"] = len(save.split()) // 2
    except redis.ResponseError:
        pass
    server_kind = (
        "Valkey " + str(info["valkey_version"])
        if "valkey_version" in info
        else ("Redis " + str(info.get("redis_version")))
    )
    log.info("henchman %s", version)
    log.info("Python %s (%s)", platform.python_version(), platform.python_implementation())
    log.info(
        "%s, mode %s%s",
        server_kind,
        info.get("redis_mode", "standalone"),
        " (embedded)" if embedded else "",
    )
    log.info("%s; queues: %s", concurrency, queues)
    for warning in server_warnings(merged, policy, embedded):
        log.warning(warning)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def log_cluster_mode(client: redis.Redis) -> None:
    """The startup line of cluster mode: how many masters, and that it is not Sidekiq's layout."""
    from redis.cluster import RedisCluster

    masters = len(client.get_primaries()) if isinstance(client, RedisCluster) else 0
    log.info(
        "Redis Cluster mode, %d masters: keys use the cluster layout, which is not "
        "Sidekiq-compatible (Sidekiq and its Web UI cannot see these jobs)",
        masters,
    )
