"""Redelivering a push whose outcome is unknown stores it only if no copy exists."""

from __future__ import annotations

import time

import orjson

from henchman import keys
from henchman.app import Henchman
from henchman.client.plan import PushPlan, plan_push
from tests.conftest import RedisDB

OPTIONS = {"queue": "default", "retry": True}


def planned(n: int, at: float | None = None) -> PushPlan:
    result = plan_push("redeliver.job", [n], OPTIONS, [], now=time.time(), at=at)
    assert result is not None
    return result


def queued_jids(redis_db: RedisDB) -> list[str]:
    raws = reversed(redis_db.client.lrange(keys.queue("default"), 0, -1))
    return [orjson.loads(raw)["jid"] for raw in raws]


def test_a_redelivered_push_already_in_its_queue_is_not_stored_again(
    app: Henchman, redis_db: RedisDB
) -> None:
    landed, missing = planned(1), planned(2)
    app.client.write_now([landed])  # the attempt whose reply was lost
    app.client.write_now([landed, missing], once=True)
    assert queued_jids(redis_db) == [landed.jid, missing.jid]
    assert redis_db.client.sismember(keys.QUEUES, "default")


def test_a_redelivered_push_a_worker_already_fetched_is_not_stored_again(
    app: Henchman, redis_db: RedisDB
) -> None:
    landed = planned(1)
    working = keys.working("host:1:abc", "default")
    redis_db.client.hset(keys.WORKING_LISTS, working, orjson.dumps(["host:1:abc", "default"]))
    redis_db.client.lpush(working, landed.raw)
    app.client.write_now([landed], once=True)
    assert queued_jids(redis_db) == []


def test_a_redelivered_scheduled_push_is_not_scheduled_twice(
    app: Henchman, redis_db: RedisDB
) -> None:
    later = planned(1, at=time.time() + 3600)
    app.client.write_now([later])
    app.client.write_now([later], once=True)
    assert redis_db.client.zcard(keys.SCHEDULE) == 1


def test_a_redelivered_push_that_never_landed_is_stored(
    app: Henchman, redis_db: RedisDB
) -> None:
    lost = planned(1)
    app.client.write_now([lost], once=True)
    assert queued_jids(redis_db) == [lost.jid]
