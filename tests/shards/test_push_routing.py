"""Pushes go to their queue's shard: immediate, scheduled, bulk, async, and buffered ones."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from henchman import keys
from henchman.app import Henchman
from henchman.client.plan import plan_push
from tests.conftest import RedisDB


def queued(db: RedisDB, queue: str) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in db.client.lrange(keys.queue(queue), 0, -1)]


def test_a_push_to_a_routed_queue_lands_on_its_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    jid = sharded_app.enqueue("Report", 1, queue="reports")
    assert [j["jid"] for j in queued(other_db, "reports")] == [jid]
    assert redis_db.client.llen(keys.queue("reports")) == 0
    assert other_db.client.smembers(keys.QUEUES) == {b"reports"}


def test_a_push_to_any_other_queue_lands_on_the_default_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    jid = sharded_app.enqueue("Mail", 1, queue="mail")
    assert [j["jid"] for j in queued(redis_db, "mail")] == [jid]
    assert other_db.client.dbsize() == 0


def test_a_scheduled_push_waits_in_its_queues_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    sharded_app.enqueue_in(3600, "Report", queue="reports")
    assert other_db.client.zcard(keys.SCHEDULE) == 1
    assert redis_db.client.zcard(keys.SCHEDULE) == 0


def test_a_bulk_push_is_split_between_the_shards(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    @sharded_app.job(queue="reports")
    def report(n: int) -> None: ...

    report.perform_bulk([[1], [2], [3]])
    report.set(queue="mail").perform_bulk([[4]])
    assert sorted(j["args"][0] for j in queued(other_db, "reports")) == [1, 2, 3]  # type: ignore[index]
    assert [j["args"] for j in queued(redis_db, "mail")] == [[4]]


def test_an_async_push_lands_on_its_queues_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    async def push() -> str | None:
        try:
            return await sharded_app.aclient.push("Report", [1], {"queue": "reports"})
        finally:
            await sharded_app.aclient.aclose()

    jid = asyncio.run(push())
    assert [j["jid"] for j in queued(other_db, "reports")] == [jid]
    assert redis_db.client.llen(keys.queue("reports")) == 0


def test_a_buffered_push_is_redelivered_to_its_own_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    plan = plan_push("Report", [7], {"queue": "reports"}, [], now=0.0)
    assert plan is not None
    client = sharded_app.client
    shard = client.for_queue("reports")  # type: ignore[attr-defined]
    assert shard is not client
    assert shard.buffer is not client.buffer
    shard.buffer.enqueue([plan], shard.write_now, uncertain=True)  # an outage's leftover
    assert shard.buffer.flush(shard.write_now)
    assert [j["jid"] for j in queued(other_db, "reports")] == [plan.jid]
    assert redis_db.client.llen(keys.queue("reports")) == 0


def test_an_unsharded_app_builds_the_plain_client(app: Henchman) -> None:
    from henchman.client.sync import Client

    assert type(app.client) is Client


def test_a_unique_jobs_lock_is_taken_on_its_queues_shard(
    sharded_app: Henchman, redis_db: RedisDB, other_db: RedisDB
) -> None:
    @sharded_app.job(queue="reports", unique_for=60)
    def report(n: int) -> None: ...

    assert report.perform_async(1) is not None
    assert report.perform_async(1) is None  # refused by the lock on the reports shard
    assert list(other_db.client.scan_iter(match="unique:*"))
    assert not list(redis_db.client.scan_iter(match="unique:*"))


def test_pushes_to_a_reachable_shard_are_not_held_behind_an_unreachable_one(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    down = f"unix://{tmp_path}/no-server.sock"
    app = Henchman(redis_db.settings(shards={"reports": down}))
    try:
        held = app.enqueue("Report", 1, queue="reports")
        sent = app.enqueue("Mail", 2, queue="mail")
        assert held is not None
        assert len(app.client.for_queue("reports").buffer) == 1  # type: ignore[attr-defined]
        assert [j["jid"] for j in queued(redis_db, "mail")] == [sent]
        assert len(app.client.buffer) == 0  # type: ignore[arg-type]
    finally:
        app.client.for_queue("reports").buffer._items.clear()  # type: ignore[attr-defined]  # no server will come
        app.close()
