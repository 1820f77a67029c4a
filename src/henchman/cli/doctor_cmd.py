"""``henchman doctor``: check the Redis henchman would use, one line per check.

The Redis is ``HENCHMAN_REDIS_URL``, else ``REDIS_URL``, else the embedded server for
``$HENCHMAN_HOME`` (started if needed, exactly as a worker would). Each decision is a pure
``judge_*`` function returning ``(level, message)`` so it is unit tested without a server; the
command itself only gathers facts and prints. Levels: OK, WARN (works, but a guarantee is weaker
than it should be), FAIL (henchman will not work). Exit code 0 without FAIL, 1 with any.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

import click
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from henchman.cli.common import fail
from henchman.cli.server_cmd import configured_home
from henchman.config_loader import redis_url_from_env
from henchman.errors import ConfigError, HenchmanError
from henchman.redis.connection import client_for_url
from henchman.redis.embedded import EmbeddedServer, binary_version, find_binary
from henchman.urls import mask_url

__all__ = [
    "Check",
    "configured_redis_url",
    "doctor",
    "exit_code",
    "judge_clock_skew",
    "judge_eviction_policy",
    "judge_persistence",
    "judge_version",
]

Level = Literal["OK", "WARN", "FAIL"]
Verdict = tuple[Level, str]
MAX_CLOCK_SKEW_SECONDS = 1.0


class Check(NamedTuple):
    """One printed line of the report."""

    level: Level
    name: str
    message: str

    def format(self) -> str:
        return f"{self.level:<4} {self.name:<12} {self.message}"


def configured_redis_url(env: Mapping[str, str]) -> str | None:
    """``HENCHMAN_REDIS_URL`` (wins) or ``REDIS_URL``; empty counts as unset; None = embedded."""
    return env.get("HENCHMAN_REDIS_URL") or env.get("REDIS_URL") or None


def judge_version(version: str) -> Verdict:
    """Judge a ``redis_version`` (Valkey reports its Redis-compatible level there too)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        return "WARN", f"cannot parse server version {version!r}"
    found = (int(match.group(1)), int(match.group(2)))
    if found < (6, 2):
        return "FAIL", f"Redis {version} is too old: henchman needs 6.2 or later (7.0+ advised)"
    if found < (7, 0):
        return "WARN", f"Redis {version} is supported but old: upgrade to 7.0+ / Valkey 7.2+"
    return "OK", f"Redis {version} compatible: supported"


def judge_eviction_policy(policy: str) -> Verdict:
    """Anything but ``noeviction`` lets Redis delete job data when memory runs out."""
    if policy == "noeviction":
        return "OK", "maxmemory-policy noeviction"
    return "WARN", (
        f"maxmemory-policy is {policy}: Redis may evict queued jobs under memory pressure; "
        "set maxmemory-policy noeviction"
    )


def judge_persistence(aof_enabled: bool, rdb_save: str | None) -> Verdict:
    """Judge persistence; ``rdb_save`` is the ``save`` setting, None when it cannot be read."""
    if aof_enabled:
        return "OK", "append-only file on"
    if rdb_save:
        return "OK", f"RDB snapshots (save {rdb_save}); AOF off, so a crash loses recent jobs"
    if rdb_save is None:
        return "WARN", "AOF off and the RDB save schedule is unreadable (CONFIG GET refused)"
    return "WARN", "persistence is off (no AOF, no RDB save): a restart loses every queued job"


def judge_clock_skew(skew_seconds: float) -> Verdict:
    """``skew_seconds`` = Redis time minus local time; scheduled jobs use local epoch times."""
    direction = "behind" if skew_seconds > 0 else "ahead of"
    text = f"local clock is {abs(skew_seconds):.3f} s {direction} the Redis server"
    if abs(skew_seconds) > MAX_CLOCK_SKEW_SECONDS:
        return "WARN", f"{text}: scheduled jobs will run early or late; sync clocks (NTP)"
    return "OK", text


def exit_code(checks: Iterable[Check]) -> int:
    """1 if any check failed, else 0."""
    return 1 if any(check.level == "FAIL" for check in checks) else 0


@click.command()
def doctor() -> None:
    """Check the embedded binary and the Redis henchman would use. Exit 1 on any FAIL."""
    try:
        redis_url_from_env(os.environ)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    checks: list[Check] = []
    for check in _run_checks(os.environ):
        checks.append(check)
        click.echo(check.format())
    raise click.exceptions.Exit(exit_code(checks))


def _run_checks(env: Mapping[str, str]) -> Iterable[Check]:
    url = configured_redis_url(env)
    yield _check_binary(needed=url is None)
    if url is None:
        try:
            url = EmbeddedServer(configured_home()).ensure_running()
        except (HenchmanError, TimeoutError) as exc:
            yield Check("FAIL", "redis", f"embedded server unavailable: {exc}")
            return
    client = client_for_url(
        url, socket_timeout=5.0, socket_connect_timeout=5.0, retry=Retry(NoBackoff(), 0)
    )
    with client:
        try:
            yield from _check_server(client, mask_url(url))
        except redis.RedisError as exc:
            yield Check("FAIL", "redis", f"cannot reach {mask_url(url)}: {exc}")


def _check_binary(needed: bool) -> Check:
    try:
        binary = find_binary()
        version = binary_version(binary)
    except (HenchmanError, OSError) as exc:
        return Check("FAIL" if needed else "WARN", "binary", str(exc))
    return Check("OK", "binary", f"valkey-server {version} ({binary})")


def _check_server(client: redis.Redis, shown_url: str) -> Iterable[Check]:
    info: dict[str, Any] = client.info()
    product = f"Redis {info['redis_version']}"
    if "valkey_version" in info:
        product = f"Valkey {info['valkey_version']}"
    yield Check("OK", "redis", f"reachable at {shown_url} ({product})")
    yield Check(*_named("version", judge_version(str(info["redis_version"]))))
    yield Check(*_named("eviction", judge_eviction_policy(str(info["maxmemory_policy"]))))
    yield Check(*_named("persistence", judge_persistence(bool(info["aof_enabled"]), _save(client))))
    before = time.time()
    seconds, micros = client.time()
    after = time.time()
    skew = seconds + micros / 1e6 - (before + after) / 2
    yield Check(*_named("clock", judge_clock_skew(skew)))


def _named(name: str, verdict: Verdict) -> tuple[Level, str, str]:
    return verdict[0], name, verdict[1]


def _save(client: redis.Redis) -> str | None:
    try:
        return str(client.config_get("save").get("save", ""))
    except redis.ResponseError:  # CONFIG disabled or renamed, as on many managed services
        return None
