"""Opt-in ``WAIT`` after pushes (``push_wait_replicas``) on a server without replicas."""

from __future__ import annotations

import asyncio
import logging

import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.errors import ConfigError
from tests.conftest import RedisDB

OPTIONS = {"queue": "default"}


def test_a_push_no_replica_acknowledged_in_time_is_stored_and_logged_with_its_jid(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    app = Henchman(redis_db.settings(push_wait_replicas=1, push_wait_timeout=0.05))
    try:
        with caplog.at_level(logging.WARNING, logger="henchman"):
            jid = app.client.push("job", [1], OPTIONS)
    finally:
        app.close()
    assert jid is not None
    assert redis_db.client.llen(keys.queue("default")) == 1
    warnings = [r.getMessage() for r in caplog.records if "replica" in r.getMessage()]
    assert len(warnings) == 1
    assert jid in warnings[0]
    assert "reached 0 of 1 replica(s)" in warnings[0]


def test_an_async_push_waits_for_replicas_too(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    app = Henchman(redis_db.settings(push_wait_replicas=1, push_wait_timeout=0.05))

    async def push() -> str | None:
        try:
            return await app.aclient.push("job", [1], OPTIONS)
        finally:
            await app.aclient.aclose()

    try:
        with caplog.at_level(logging.WARNING, logger="henchman"):
            jid = asyncio.run(push())
    finally:
        app.close()
    assert jid is not None
    assert any(jid in r.getMessage() for r in caplog.records)


def test_without_the_setting_a_push_does_not_wait(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    app = Henchman(redis_db.settings())
    try:
        with caplog.at_level(logging.WARNING, logger="henchman"):
            app.client.push("job", [1], OPTIONS)
    finally:
        app.close()
    assert not [r for r in caplog.records if "replica" in r.getMessage()]


def test_a_negative_replica_count_is_refused(redis_db: RedisDB) -> None:
    with pytest.raises(ConfigError, match=r"push_wait_replicas' .* must not be negative"):
        redis_db.settings(push_wait_replicas=-1)
