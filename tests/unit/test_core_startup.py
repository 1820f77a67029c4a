"""Startup judgements about the server: refuse Redis < 6.2, warn below 7.0, warn on an
evicting ``maxmemory-policy`` and on missing persistence. Pure: INFO/CONFIG answers are given."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from henchman.errors import ConfigError
from henchman.server.startup import check_server, parse_version, server_warnings

SAFE = {"redis_version": "7.2.4", "aof_enabled": 1}


@pytest.mark.parametrize("version", ["6.0.9", "5.0.14", "6.1.0", "0"])
def test_a_server_older_than_6_2_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match=f"Redis {version} is too old"):
        server_warnings({**SAFE, "redis_version": version}, "noeviction", embedded=False)


@pytest.mark.parametrize("version", ["6.2.0", "6.2.14"])
def test_a_server_between_6_2_and_7_is_accepted_with_a_warning(version: str) -> None:
    warnings = server_warnings({**SAFE, "redis_version": version}, "noeviction", embedded=False)
    assert warnings == [f"Redis {version} is older than 7.0; upgrade soon"]


@pytest.mark.parametrize("version", ["7.0.0", "7.2.4", "8.0.1"])
def test_a_current_server_gets_no_version_warning(version: str) -> None:
    assert server_warnings({**SAFE, "redis_version": version}, "noeviction", False) == []


def test_an_evicting_policy_is_warned_about() -> None:
    [warning] = server_warnings(SAFE, "allkeys-lru", embedded=False)
    assert "maxmemory-policy is 'allkeys-lru'" in warning
    assert "noeviction" in warning


def test_an_unknown_policy_is_not_warned_about() -> None:
    assert server_warnings(SAFE, None, embedded=False) == []


def test_no_persistence_on_a_real_server_is_warned_about() -> None:
    [warning] = server_warnings({"redis_version": "7.2.0", "aof_enabled": 0}, "noeviction", False)
    assert "persistence" in warning


def test_no_persistence_on_the_embedded_server_is_not_warned_about() -> None:
    assert server_warnings({"redis_version": "7.2.0", "aof_enabled": 0}, "noeviction", True) == []


def test_rdb_snapshots_count_as_persistence() -> None:
    info = {"redis_version": "7.2.0", "aof_enabled": 0, "rdb_saves_configured": 3}
    assert server_warnings(info, "noeviction", embedded=False) == []


def test_every_problem_is_reported_at_once() -> None:
    info = {"redis_version": "6.2.1", "aof_enabled": "0"}
    assert len(server_warnings(info, "volatile-lru", embedded=False)) == 3


@pytest.mark.parametrize(
    ("text", "parsed"), [("7.2.4", (7, 2, 4)), ("6.2", (6, 2)), ("7.0.0-rc1", (7, 0, 0))]
)
def test_parse_version(text: str, parsed: tuple[int, ...]) -> None:
    assert parse_version(text)[: len(parsed)] == parsed


class StubServer:
    """Answers INFO and CONFIG GET the way redis-py returns them from a real Redis 7.2 with RDB
    snapshots on and AOF off (Redis's own default configuration)."""

    def info(self, section: str) -> dict[str, Any]:
        if section == "server":
            return {"redis_version": "7.2.4", "redis_mode": "standalone"}
        return {"aof_enabled": 0, "rdb_changes_since_last_save": 0, "rdb_bgsave_in_progress": 0}

    def config_get(self, name: str) -> dict[bytes, bytes]:
        answers = {"maxmemory-policy": b"noeviction", "save": b"3600 1 300 100 60 10000"}
        return {name.encode(): answers[name]}


def test_check_server_does_not_warn_about_persistence_with_rdb_snapshots() -> None:
    messages = _logged(
        lambda: check_server(
            StubServer(),
            embedded=False,
            version="0.1.0",  # type: ignore[arg-type]
            queues="default",
            concurrency="10",
        )
    )
    assert any("Redis 7.2.4" in m for m in messages)  # the check did run and log
    assert not [m for m in messages if "persistence" in m]


def test_check_server_logs_one_line_per_startup_fact() -> None:
    messages = _logged(
        lambda: check_server(
            StubServer(),
            embedded=True,
            version="9.9.9",  # type: ignore[arg-type]
            queues="a, b,2",
            concurrency="concurrency 3",
        )
    )
    assert "henchman 9.9.9" in messages
    assert any(m.startswith("Python ") for m in messages)
    assert "Redis 7.2.4, mode standalone (embedded)" in messages
    assert "concurrency 3; queues: a, b,2" in messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _logged(action: Callable[[], object]) -> list[str]:
    """Messages the ``henchman`` logger emits during ``action`` (whatever its propagation)."""
    logger = logging.getLogger("henchman")
    handler, level = _Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        action()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.messages
