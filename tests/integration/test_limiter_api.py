"""``henchman.api.LimiterSet``: every limiter used, its definition and its usage now."""

from __future__ import annotations

import pytest

import henchman
from henchman.api import LimiterSet
from henchman.app import Henchman
from henchman.limits import base
from tests.conftest import RedisDB


def test_every_used_limiter_is_listed_with_its_definition(
    app: Henchman, redis_db: RedisDB
) -> None:
    with henchman.limiter.window("w", 5, 2.5, app=app).within_limit():
        pass
    with henchman.limiter.concurrent("c", 3, lock_timeout=9, app=app).within_limit():
        pass
    records = {r.name: r for r in LimiterSet(redis_db.client).all()}
    assert sorted(records) == ["c", "w"]
    assert (records["w"].kind, records["w"].size, records["w"].interval) == ("window", 5, 2.5)
    assert (records["c"].kind, records["c"].lock_timeout) == ("concurrent", 9.0)


def test_usage_counts_holders_and_admissions_now(app: Henchman, redis_db: RedisDB) -> None:
    concurrent = henchman.limiter.concurrent("c", 3, app=app)
    held = [concurrent.acquire(), concurrent.acquire()]
    bucket = henchman.limiter.bucket("b", 10, "hour", app=app)
    for _ in range(4):
        with bucket.within_limit():
            pass
    api = LimiterSet(redis_db.client)
    assert api.usage("c") == 2
    assert api.usage("b") == 4
    concurrent.release(held[0])
    assert api.usage("c") == 1
    assert api.find("c").utilization == pytest.approx(1 / 3)  # type: ignore[union-attr]


def test_levels_drain_with_the_server_clock(app: Henchman, redis_db: RedisDB) -> None:
    with henchman.limiter.points("p", 100, 3600, app=app).within_limit(estimate=40):
        pass
    used = LimiterSet(redis_db.client).usage("p")
    assert used is not None
    assert 39.9 < used <= 40


def test_an_unknown_limiter_has_no_usage(redis_db: RedisDB) -> None:
    assert LimiterSet(redis_db.client).usage("nope") is None


def test_reset_keeps_the_definition_and_delete_removes_it(
    app: Henchman, redis_db: RedisDB
) -> None:
    limiter = henchman.limiter.concurrent("c", 1, wait_timeout=0, app=app)
    limiter.acquire()
    api = LimiterSet(redis_db.client)
    api.reset("c")
    assert api.usage("c") == 0
    with limiter.within_limit():  # the slot is free again
        pass
    api.delete("c")
    assert api.names() == []


def test_a_deleted_limiter_registers_again_while_it_is_used(
    app: Henchman, redis_db: RedisDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "REGISTER_EVERY", 0.0)  # re-register on every use
    limiter = henchman.limiter.bucket("again", 100, "minute", app=app)
    with limiter.within_limit():
        pass
    LimiterSet(redis_db.client).delete("again")
    with limiter.within_limit():
        pass
    assert LimiterSet(redis_db.client).names() == ["again"]
