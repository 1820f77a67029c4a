"""Pushing writes exactly Sidekiq's layout: ``SADD queues`` + ``LPUSH
queue:<q>`` (the right end is the head), ``ZADD schedule <float epoch>``; nothing at all for
arguments that are not JSON."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.client.sync import Client
from tests.conftest import RedisDB
from tests.integration._core_helpers import queue_jobs, zset_jobs


class SpyPipeline:
    """Records the commands a pipeline is given, then runs them on the real one."""

    def __init__(self, real: Any, log: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._real = real
        self._log = log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name in ("sadd", "lpush", "zadd", "rpush"):

            def record(*args: Any, **kwargs: Any) -> Any:
                self._log.append((name, args))
                return attr(*args, **kwargs)

            return record
        return attr


class SpyRedis:
    def __init__(self, real: redis.Redis) -> None:
        self.real = real
        self.commands: list[tuple[str, tuple[Any, ...]]] = []

    def pipeline(self, transaction: bool = True) -> SpyPipeline:
        return SpyPipeline(self.real.pipeline(transaction=transaction), self.commands)

    def execute_command(self, name: str, *args: Any) -> Any:
        """A push to a queue this client registered moments ago is a bare LPUSH (sent through
        the client's fast lane, which uses ``execute_command`` for anything but redis-py)."""
        self.commands.append((name.lower(), args))
        return self.real.execute_command(name, *args)

    def close(self) -> None:
        pass


def test_perform_async_adds_the_queue_and_lpushes_the_payload(
    app: Henchman, redis_db: RedisDB
) -> None:
    @app.job(name="core.push.plain", queue="mailers")
    def work(a: int) -> None: ...

    jid = work.perform_async(42)
    assert redis_db.client.smembers(keys.QUEUES) == {b"mailers"}
    assert redis_db.client.type(keys.queue("mailers")) == b"list"
    [job] = queue_jobs(redis_db.client, "mailers")
    assert job["jid"] == jid
    assert job["class"] == "core.push.plain"
    assert job["args"] == [42]
    assert job["queue"] == "mailers"
    assert job["retry"] is True
    assert set(redis_db.client.keys("*")) == {b"queues", b"queue:mailers"}


def test_the_right_end_of_a_queue_is_its_head(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.order")
    def work(n: int) -> None: ...

    first = work.perform_async(1)
    second = work.perform_async(2)
    assert orjson.loads(redis_db.client.rpop(keys.queue("default")))["jid"] == first
    assert orjson.loads(redis_db.client.rpop(keys.queue("default")))["jid"] == second


def test_the_pushed_json_writes_timestamps_as_floats(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.floats")
    def work() -> None: ...

    work.perform_async()
    raw = redis_db.client.lindex(keys.queue("default"), 0).decode()
    job = orjson.loads(raw)
    assert isinstance(job["created_at"], float)
    assert isinstance(job["enqueued_at"], float)
    assert f'"created_at":{job["created_at"]!r}' in raw
    assert "." in repr(job["created_at"])


def test_perform_in_zadds_the_schedule_with_a_float_score(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.later")
    def work() -> None: ...

    jid = work.perform_in(60)
    assert not redis_db.client.exists(keys.queue("default"))
    assert not redis_db.client.exists(keys.QUEUES)
    [(job, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert job["jid"] == jid
    assert "enqueued_at" not in job
    assert score == pytest.approx(job["created_at"] + 60, abs=1e-3)


def test_perform_in_accepts_a_timedelta(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.timedelta")
    def work() -> None: ...

    work.perform_in(timedelta(minutes=2))
    [(job, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert score == pytest.approx(job["created_at"] + 120, abs=1e-3)


def test_perform_at_a_datetime_zadds_its_epoch(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.at")
    def work() -> None: ...

    when = datetime.now(UTC) + timedelta(hours=1)
    work.perform_at(when)
    [(_, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert score == pytest.approx(when.timestamp(), abs=1e-3)


def test_perform_at_a_past_time_enqueues_now(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.past")
    def work() -> None: ...

    work.perform_at(time.time() - 3600)
    assert redis_db.client.zcard(keys.SCHEDULE) == 0
    [job] = queue_jobs(redis_db.client, "default")
    assert "enqueued_at" in job


def test_perform_in_a_negative_delay_enqueues_now(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.negative")
    def work() -> None: ...

    work.perform_in(-5)
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_perform_bulk_returns_the_jids_in_order(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.bulk")
    def work(n: int) -> None: ...

    jids = work.perform_bulk([[1], [2], [3]])
    jobs = queue_jobs(redis_db.client, "default")
    assert [j["jid"] for j in jobs] == jids
    assert [j["args"] for j in jobs] == [[1], [2], [3]]
    assert len(set(jids)) == 3


def test_push_bulk_sends_one_lpush_per_queue(redis_db: RedisDB) -> None:
    spy = SpyRedis(redis_db.client)
    client = Client(lambda: spy)  # type: ignore[arg-type, return-value]
    client.push_bulk("core.push.spy", [[n] for n in range(5)], {"queue": "q", "retry": True})
    assert [name for name, _ in spy.commands] == ["sadd", "lpush"]
    assert len(spy.commands[1][1]) == 1 + 5
    assert redis_db.client.llen(keys.queue("q")) == 5


def test_push_bulk_sends_one_lpush_per_batch(redis_db: RedisDB) -> None:
    spy = SpyRedis(redis_db.client)
    client = Client(lambda: spy)  # type: ignore[arg-type, return-value]
    client.push_bulk(
        "core.push.batches", [[n] for n in range(5)], {"queue": "q", "retry": True}, batch_size=2
    )
    assert [name for name, _ in spy.commands].count("lpush") == 3
    assert [j["args"] for j in queue_jobs(redis_db.client, "q")] == [[n] for n in range(5)]


def test_push_bulk_with_at_sends_one_zadd(redis_db: RedisDB) -> None:
    spy = SpyRedis(redis_db.client)
    client = Client(lambda: spy)  # type: ignore[arg-type, return-value]
    at = time.time() + 600
    client.push_bulk("core.push.bulk_at", [[1], [2]], {"queue": "q", "retry": True}, at=at)
    assert [name for name, _ in spy.commands] == ["zadd"]
    assert [s for _, s in zset_jobs(redis_db.client, keys.SCHEDULE)] == pytest.approx([at, at])


def test_perform_bulk_at_schedules_every_job(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.bulk_later")
    def work(n: int) -> None: ...

    jids = work.perform_bulk([[1], [2]], at=time.time() + 600)
    assert sorted(j["jid"] for j, _ in zset_jobs(redis_db.client, keys.SCHEDULE)) == sorted(jids)
    assert not redis_db.client.exists(keys.queue("default"))


@pytest.mark.parametrize(
    "bad",
    [datetime(2024, 1, 1), Decimal("1.5"), {1, 2}, float("nan"), 2**70, object()],
    ids=["datetime", "decimal", "set", "nan", "huge-int", "object"],
)
def test_non_json_args_write_nothing(app: Henchman, redis_db: RedisDB, bad: Any) -> None:
    @app.job(name="core.push.bad_args")
    def work(*args: Any) -> None: ...

    with pytest.raises(TypeError, match=r"args\[1\]"):
        work.perform_async("ok", bad)
    assert redis_db.client.dbsize() == 0


def test_non_json_args_nested_in_a_dict_name_the_path(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.nested_bad")
    def work(*args: Any) -> None: ...

    with pytest.raises(TypeError, match=r"args\[1\]\['when'\]"):
        work.perform_async(1, {"when": datetime(2024, 1, 1)})
    assert redis_db.client.dbsize() == 0


def test_a_bad_item_in_a_bulk_push_writes_nothing(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.bulk_bad")
    def work(x: Any) -> None: ...

    with pytest.raises(TypeError, match="item 2"):
        work.perform_bulk([[1], [2], [Decimal(3)], [4]])
    assert redis_db.client.dbsize() == 0


def test_non_json_args_in_a_scheduled_push_write_nothing(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.bad_later")
    def work(x: Any) -> None: ...

    with pytest.raises(TypeError):
        work.perform_in(10, {1, 2})
    assert redis_db.client.dbsize() == 0


def test_set_overrides_the_queue_for_one_push(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.set", queue="a")
    def work() -> None: ...

    work.set(queue="b").perform_async()
    work.perform_async()
    assert redis_db.client.llen(keys.queue("a")) == 1
    assert redis_db.client.llen(keys.queue("b")) == 1
    assert redis_db.client.smembers(keys.QUEUES) == {b"a", b"b"}


def test_enqueue_pushes_a_job_by_wire_name(app: Henchman, redis_db: RedisDB) -> None:
    jid = app.enqueue("Ruby::HardJob", 1, "two", queue="critical", tags=["x"])
    [job] = queue_jobs(redis_db.client, "critical")
    assert job["class"] == "Ruby::HardJob"
    assert job["jid"] == jid
    assert job["args"] == [1, "two"]
    assert job["retry"] is True
    assert job["tags"] == ["x"]


def test_enqueue_defaults_to_the_default_queue(app: Henchman, redis_db: RedisDB) -> None:
    app.enqueue("Ruby::Job")
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_enqueue_in_schedules_a_job_by_wire_name(app: Henchman, redis_db: RedisDB) -> None:
    app.enqueue_in(30, "Ruby::LaterJob", 5)
    [(job, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert job["class"] == "Ruby::LaterJob"
    assert score == pytest.approx(job["created_at"] + 30, abs=1e-3)


def test_enqueue_at_schedules_a_job_by_wire_name(app: Henchman, redis_db: RedisDB) -> None:
    at = time.time() + 500
    app.enqueue_at(at, "Ruby::AtJob")
    [(_, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert score == pytest.approx(at, abs=1e-3)


def test_a_client_middleware_can_drop_a_push(app: Henchman, redis_db: RedisDB) -> None:
    app.client_middleware.append(lambda name, payload, queue: None)

    @app.job(name="core.push.dropped")
    def work() -> None: ...

    assert work.perform_async() is None
    assert redis_db.client.dbsize() == 0


def test_a_client_middleware_can_modify_a_push(app: Henchman, redis_db: RedisDB) -> None:
    def stamp(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        return {**payload, "traced": name}

    app.client_middleware.append(stamp)

    @app.job(name="core.push.modified")
    def work() -> None: ...

    work.perform_async()
    [job] = queue_jobs(redis_db.client, "default")
    assert job["traced"] == "core.push.modified"


def _async_run(app: Henchman, coro_fn: Any) -> Any:
    async def main() -> Any:
        try:
            return await coro_fn()
        finally:
            await app.aclient.aclose()

    return asyncio.run(main())


def test_aperform_async_writes_the_same_layout(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.async", queue="aq")
    def work(n: int) -> None: ...

    jid = _async_run(app, lambda: work.aperform_async(3))
    assert redis_db.client.smembers(keys.QUEUES) == {b"aq"}
    [job] = queue_jobs(redis_db.client, "aq")
    assert job["jid"] == jid
    assert job["args"] == [3]
    assert isinstance(job["enqueued_at"], float)


def test_aperform_in_zadds_the_schedule(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.async_in")
    def work() -> None: ...

    jid = _async_run(app, lambda: work.aperform_in(45))
    [(job, score)] = zset_jobs(redis_db.client, keys.SCHEDULE)
    assert job["jid"] == jid
    assert "enqueued_at" not in job
    assert score == pytest.approx(job["created_at"] + 45, abs=1e-3)


def test_aperform_at_a_past_time_enqueues_now(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.async_at")
    def work() -> None: ...

    _async_run(app, lambda: work.aperform_at(time.time() - 10))
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_aperform_bulk_returns_jids_in_order(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.async_bulk")
    def work(n: int) -> None: ...

    jids = _async_run(app, lambda: work.aperform_bulk([[1], [2], [3]]))
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == jids


def test_aperform_async_with_non_json_args_writes_nothing(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.push.async_bad")
    def work(x: Any) -> None: ...

    with pytest.raises(TypeError, match=r"args\[0\]"):
        _async_run(app, lambda: work.aperform_async(Decimal(1)))
    assert redis_db.client.dbsize() == 0


def test_a_class_style_job_pushes_with_its_class_options(app: Henchman, redis_db: RedisDB) -> None:
    import henchman

    class Pushed(henchman.Job, app=app, name="core.push.Pushed"):
        queue = "critical"
        retry = 3

        def perform(self, n: int) -> None: ...

    jid = Pushed.perform_async(1)
    [job] = queue_jobs(redis_db.client, "critical")
    assert job["jid"] == jid
    assert job["retry"] == 3
    assert job["class"] == "core.push.Pushed"


def test_repeated_pushes_to_a_registered_queue_are_one_lpush_each(redis_db: RedisDB) -> None:
    spy = SpyRedis(redis_db.client)
    client = Client(lambda: spy)  # type: ignore[arg-type, return-value]
    for n in range(3):
        client.push("core.push.repeat", [n], {"queue": "q", "retry": True})
    assert [name for name, _ in spy.commands] == ["sadd", "lpush", "lpush", "lpush"]
    assert redis_db.client.smembers(keys.QUEUES) == {b"q"}
    assert [j["args"] for j in queue_jobs(redis_db.client, "q")] == [[0], [1], [2]]
