"""The Lua scripts on a real server: each one's atomic move and its
guarantee that a job is always in exactly one place."""

from __future__ import annotations

import orjson
import pytest

from henchman import keys
from henchman.redis.scripts import Scripts
from tests.conftest import RedisDB
from tests.integration._core_helpers import queue_jobs

OWNER = "host:1:abc"


@pytest.fixture
def scripts(redis_db: RedisDB) -> Scripts:
    return Scripts(redis_db.client)


def job(jid: str, queue: str = "default", **extra: object) -> bytes:
    return orjson.dumps(
        {"class": "core.Lua", "args": [], "jid": jid, "queue": queue, "retry": True, **extra}
    )


def enqueue(redis_db: RedisDB, queue: str, *raws: bytes) -> None:
    """Push ``raws`` so that the first is at the head."""
    for raw in raws:
        redis_db.client.lpush(keys.queue(queue), raw)


def working(queue: str) -> str:
    return keys.working(OWNER, queue)


def fetch(scripts: Scripts, want: int, *queue_names: str) -> list[object]:
    fetch_keys: list[str] = []
    for name in queue_names:
        fetch_keys += [keys.queue(name), working(name)]
    result: list[object] = scripts("fetch", fetch_keys, [want])
    return result


# --- fetch.lua ------------------------------------------------------------------------------


def test_fetch_takes_at_most_n_jobs_across_queues_in_order(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    a1, a2, b1, b2 = job("a1", "a"), job("a2", "a"), job("b1", "b"), job("b2", "b")
    enqueue(redis_db, "a", a1, a2)
    enqueue(redis_db, "b", b1, b2)
    reply = fetch(scripts, 3, "a", "b")
    assert reply == [1, a1, 1, a2, 2, b1]
    assert redis_db.client.llen(keys.queue("a")) == 0
    assert redis_db.client.lrange(keys.queue("b"), 0, -1) == [b2]


def test_fetch_moves_the_jobs_into_the_working_lists(redis_db: RedisDB, scripts: Scripts) -> None:
    a1, b1 = job("a1", "a"), job("b1", "b")
    enqueue(redis_db, "a", a1)
    enqueue(redis_db, "b", b1)
    fetch(scripts, 5, "a", "b")
    assert redis_db.client.lrange(working("a"), 0, -1) == [a1]
    assert redis_db.client.lrange(working("b"), 0, -1) == [b1]


def test_fetch_stops_at_n_within_the_first_queue(redis_db: RedisDB, scripts: Scripts) -> None:
    raws = [job(f"a{n}", "a") for n in range(4)]
    enqueue(redis_db, "a", *raws)
    enqueue(redis_db, "b", job("b0", "b"))
    reply = fetch(scripts, 2, "a", "b")
    assert reply == [1, raws[0], 1, raws[1]]
    assert redis_db.client.llen(keys.queue("b")) == 1
    assert redis_db.client.llen(working("b")) == 0


def test_fetch_of_empty_queues_returns_nothing(redis_db: RedisDB, scripts: Scripts) -> None:
    assert fetch(scripts, 4, "a", "b") == []
    assert redis_db.client.dbsize() == 0


def test_fetch_honours_the_order_given(redis_db: RedisDB, scripts: Scripts) -> None:
    enqueue(redis_db, "a", job("a1", "a"))
    enqueue(redis_db, "b", job("b1", "b"))
    reply = fetch(scripts, 1, "b", "a")
    assert reply == [1, job("b1", "b")]


# --- ack.lua --------------------------------------------------------------------------------


def test_ack_of_a_success_removes_the_job_and_records_nothing(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    raw = job("ok")
    redis_db.client.lpush(working("default"), raw)
    assert scripts("ack", [working("default"), keys.RETRY], [raw, "", ""]) == 1
    assert redis_db.client.dbsize() == 0


def test_ack_of_a_retry_removes_the_job_and_zadds_the_new_payload(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    raw, failed = job("r"), job("r", retry_count=0)
    redis_db.client.lpush(working("default"), raw)
    assert scripts("ack", [working("default"), keys.RETRY], [raw, "123.5", failed, "", ""]) == 1
    assert redis_db.client.llen(working("default")) == 0
    assert redis_db.client.zrange(keys.RETRY, 0, -1, withscores=True) == [(failed, 123.5)]


def test_ack_of_a_death_zadds_the_dead_set(redis_db: RedisDB, scripts: Scripts) -> None:
    raw, dead = job("d"), job("d", error_message="x")
    redis_db.client.lpush(working("default"), raw)
    scripts("ack", [working("default"), keys.DEAD], [raw, "1000.0", dead, "0", 10])
    assert redis_db.client.zrange(keys.DEAD, 0, -1, withscores=True) == [(dead, 1000.0)]


def test_ack_trims_the_dead_set_to_the_newest_n(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.DEAD, {b"old1": 100, b"old2": 200, b"old3": 300})
    raw, dead = job("d"), job("d", dead=True)
    redis_db.client.lpush(working("default"), raw)
    scripts("ack", [working("default"), keys.DEAD], [raw, "400.0", dead, "0", 2])
    assert redis_db.client.zrange(keys.DEAD, 0, -1) == [b"old3", dead]


def test_ack_trims_dead_entries_older_than_the_cutoff(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.DEAD, {b"ancient": 10, b"recent": 900})
    raw, dead = job("d"), job("d", dead=True)
    redis_db.client.lpush(working("default"), raw)
    scripts("ack", [working("default"), keys.DEAD], [raw, "1000.0", dead, "500", 100])
    assert redis_db.client.zrange(keys.DEAD, 0, -1) == [b"recent", dead]


def test_ack_keeps_an_entry_exactly_at_the_cutoff(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.DEAD, {b"edge": 500})
    raw, dead = job("d"), job("d", dead=True)
    redis_db.client.lpush(working("default"), raw)
    scripts("ack", [working("default"), keys.DEAD], [raw, "1000.0", dead, "500", 100])
    assert redis_db.client.zrange(keys.DEAD, 0, -1) == [b"edge", dead]


def test_ack_records_nothing_when_the_job_left_the_working_list(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    raw, failed = job("gone"), job("gone", retry_count=0)
    assert scripts("ack", [working("default"), keys.RETRY], [raw, "1.0", failed, "", ""]) == 0
    assert redis_db.client.dbsize() == 0


def test_ack_removes_only_one_copy_of_a_duplicate(redis_db: RedisDB, scripts: Scripts) -> None:
    raw = job("dup")
    redis_db.client.lpush(working("default"), raw, raw)
    scripts("ack", [working("default"), keys.RETRY], [raw, "", ""])
    assert redis_db.client.lrange(working("default"), 0, -1) == [raw]


# --- requeue.lua ----------------------------------------------------------------------------


def test_requeue_puts_fetched_jobs_back_at_the_head_in_original_order(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    first, second, waiting = job("first"), job("second"), job("waiting")
    enqueue(redis_db, "default", first, second, waiting)
    fetch(scripts, 2, "default")
    moved = scripts("requeue", [working("default"), keys.queue("default")], [])
    assert moved == 2
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == [
        "first",
        "second",
        "waiting",
    ]
    assert not redis_db.client.exists(working("default"))


def test_requeue_of_an_empty_working_list_moves_nothing(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    assert scripts("requeue", [working("default"), keys.queue("default")], []) == 0


def test_requeue_keeps_order_across_separate_fetches(redis_db: RedisDB, scripts: Scripts) -> None:
    raws = [job(f"j{n}") for n in range(4)]
    enqueue(redis_db, "default", *raws)
    fetch(scripts, 1, "default")
    fetch(scripts, 2, "default")
    scripts("requeue", [working("default"), keys.queue("default")], [])
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == ["j0", "j1", "j2", "j3"]


# --- schedule.lua ---------------------------------------------------------------------------

NOW = "1700000000.5"


def schedule(scripts: Scripts, zset: str = keys.SCHEDULE, now: str = NOW, limit: int = 100) -> int:
    return int(scripts("schedule", [zset, keys.QUEUES], [now, limit, keys.QUEUE_PREFIX]))


def test_schedule_moves_due_jobs_only(redis_db: RedisDB, scripts: Scripts) -> None:
    due, future = job("due", "q"), job("future", "q")
    redis_db.client.zadd(keys.SCHEDULE, {due: 1700000000.0, future: 1700000001.0})
    assert schedule(scripts) == 1
    assert [j["jid"] for j in queue_jobs(redis_db.client, "q")] == ["due"]
    assert redis_db.client.zrange(keys.SCHEDULE, 0, -1) == [future]
    assert redis_db.client.smembers(keys.QUEUES) == {b"q"}


def test_schedule_moves_a_job_due_exactly_now(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {job("edge"): float(NOW)})
    assert schedule(scripts) == 1


def test_schedule_moves_at_most_the_limit(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {job(f"j{n}"): 1000.0 + n for n in range(5)})
    assert schedule(scripts, limit=3) == 3
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == ["j0", "j1", "j2"]
    assert redis_db.client.zcard(keys.SCHEDULE) == 2


def test_schedule_moves_due_retries_to_their_queue(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.RETRY, {job("r", "mail", retry_count=0): 5.0})
    assert schedule(scripts, zset=keys.RETRY) == 1
    [moved] = queue_jobs(redis_db.client, "mail")
    assert moved["retry_count"] == 0


def test_schedule_inserts_enqueued_at_when_absent(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {job("j", created_at=1.5): 1.0})
    schedule(scripts)
    raw = redis_db.client.lindex(keys.queue("default"), 0)
    moved = orjson.loads(raw)
    assert moved["enqueued_at"] == float(NOW)
    assert moved["created_at"] == 1.5
    assert f'"enqueued_at":{NOW}'.encode() in raw


def test_schedule_replaces_an_existing_enqueued_at(redis_db: RedisDB, scripts: Scripts) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {job("j", enqueued_at=2.25): 1.0})
    schedule(scripts)
    raw = redis_db.client.lindex(keys.queue("default"), 0)
    assert orjson.loads(raw)["enqueued_at"] == float(NOW)
    assert raw.count(b"enqueued_at") == 1


def test_schedule_keeps_every_other_byte_of_the_payload(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    original = job("j", enqueued_at=2.25, created_at=1.125, big=12345678901234567)
    redis_db.client.zadd(keys.SCHEDULE, {original: 1.0})
    schedule(scripts)
    raw = redis_db.client.lindex(keys.queue("default"), 0)
    assert raw == original.replace(b'"enqueued_at":2.25', f'"enqueued_at":{NOW}'.encode())


def test_schedule_with_an_enqueued_at_key_inside_args_stamps_the_top_level(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    original = orjson.dumps(
        {
            "class": "core.Lua",
            "args": [{"enqueued_at": 7}],
            "jid": "j",
            "queue": "default",
            "retry": True,
            "enqueued_at": 3.0,
        }
    )
    redis_db.client.zadd(keys.SCHEDULE, {original: 1.0})
    schedule(scripts)
    moved = orjson.loads(redis_db.client.lindex(keys.queue("default"), 0))
    assert moved["enqueued_at"] == float(NOW)
    assert moved["args"] == [{"enqueued_at": 7}]


def test_schedule_with_an_enqueued_at_key_inside_args_and_none_on_top(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    original = orjson.dumps(
        {
            "class": "core.Lua",
            "args": [{"enqueued_at": 7}],
            "jid": "j",
            "queue": "default",
            "retry": True,
        }
    )
    redis_db.client.zadd(keys.SCHEDULE, {original: 1.0})
    schedule(scripts)
    moved = orjson.loads(redis_db.client.lindex(keys.queue("default"), 0))
    assert moved["enqueued_at"] == float(NOW)
    assert moved["args"] == [{"enqueued_at": 7}]


def test_schedule_with_an_enqueued_at_string_inside_args(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    original = orjson.dumps(
        {
            "class": "core.Lua",
            "args": ['"enqueued_at":5'],
            "jid": "j",
            "queue": "default",
            "retry": True,
            "enqueued_at": 3.0,
        }
    )
    redis_db.client.zadd(keys.SCHEDULE, {original: 1.0})
    schedule(scripts)
    moved = orjson.loads(redis_db.client.lindex(keys.queue("default"), 0))
    assert moved["enqueued_at"] == float(NOW)
    assert moved["args"] == ['"enqueued_at":5']


def test_schedule_sends_a_non_json_entry_unchanged_to_the_default_queue(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {b"not json at all": 1.0})
    assert schedule(scripts) == 1
    assert redis_db.client.lrange(keys.queue("default"), 0, -1) == [b"not json at all"]
    assert redis_db.client.smembers(keys.QUEUES) == {b"default"}


def test_schedule_sends_an_entry_without_a_queue_to_the_default_queue(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    raw = orjson.dumps({"class": "core.Lua", "args": [], "jid": "j"})
    redis_db.client.zadd(keys.SCHEDULE, {raw: 1.0})
    schedule(scripts)
    assert redis_db.client.llen(keys.queue("default")) == 1


# --- recover.lua ----------------------------------------------------------------------------


def recover(scripts: Scripts, limit: int = 3, queue: str = "default") -> list[int]:
    field = working(queue)
    result: list[int] = scripts(
        "recover",
        [
            field,
            keys.queue(queue),
            keys.process(OWNER),
            keys.RECOVERIES,
            keys.POISON,
            keys.WORKING_LISTS,
        ],
        [field, limit, 3600],
    )
    return result


def register(redis_db: RedisDB, queue: str = "default") -> None:
    redis_db.client.hset(keys.WORKING_LISTS, working(queue), orjson.dumps([OWNER, queue]))


def test_recover_leaves_a_live_owners_list_untouched(redis_db: RedisDB, scripts: Scripts) -> None:
    register(redis_db)
    redis_db.client.hset(keys.process(OWNER), "info", "{}")
    redis_db.client.lpush(working("default"), job("busy"))
    assert recover(scripts) == [-1, 0]
    assert redis_db.client.llen(working("default")) == 1
    assert redis_db.client.hexists(keys.WORKING_LISTS, working("default"))
    assert not redis_db.client.exists(keys.queue("default"))


def test_recover_moves_a_dead_owners_jobs_back_in_original_order(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    register(redis_db)
    enqueue(redis_db, "default", job("first"), job("second"), job("waiting"))
    fetch(scripts, 2, "default")
    assert recover(scripts) == [2, 0]
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == [
        "first",
        "second",
        "waiting",
    ]
    assert not redis_db.client.exists(working("default"))
    assert not redis_db.client.hexists(keys.WORKING_LISTS, working("default"))


def test_recover_counts_each_recovery_by_jid(redis_db: RedisDB, scripts: Scripts) -> None:
    register(redis_db)
    redis_db.client.lpush(working("default"), job("counted"))
    recover(scripts)
    assert redis_db.client.hget(keys.RECOVERIES, "counted") == b"1"
    assert redis_db.client.ttl(keys.RECOVERIES) > 0


def test_recover_sends_a_job_at_the_poison_limit_to_the_poison_list(
    redis_db: RedisDB, scripts: Scripts
) -> None:
    register(redis_db)
    redis_db.client.hset(keys.RECOVERIES, "pill", 2)
    raw = job("pill")
    redis_db.client.lpush(working("default"), raw)
    assert recover(scripts, limit=3) == [0, 1]
    assert redis_db.client.lrange(keys.POISON, 0, -1) == [raw]
    assert not redis_db.client.exists(keys.queue("default"))


def test_recover_below_the_poison_limit_requeues(redis_db: RedisDB, scripts: Scripts) -> None:
    register(redis_db)
    redis_db.client.hset(keys.RECOVERIES, "twice", 1)
    redis_db.client.lpush(working("default"), job("twice"))
    assert recover(scripts, limit=3) == [1, 0]
    assert redis_db.client.hget(keys.RECOVERIES, "twice") == b"2"


def test_recover_requeues_a_non_json_entry(redis_db: RedisDB, scripts: Scripts) -> None:
    register(redis_db)
    redis_db.client.lpush(working("default"), b"garbage")
    assert recover(scripts) == [1, 0]
    assert redis_db.client.lrange(keys.queue("default"), 0, -1) == [b"garbage"]
