"""The admin API on a real server, with data written the way Ruby Sidekiq 6.4/7/8 writes
it: float-second and integer-millisecond timestamps, compressed backtraces, a 6.4
process with a ``:workers`` hash, and corrupt entries that must still be listable."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import orjson
import pytest
import redis

import henchman.api
from henchman import keys
from henchman.api import (
    DeadSet,
    JobRecord,
    ProcessSet,
    Queue,
    RetrySet,
    ScheduledSet,
    Stats,
    WorkSet,
)
from tests.conftest import RedisDB as RedisDb

# Fixtures shared with test_admin_cli.py (the lead owns conftest.py): bound by assignment.

NOW = 1_700_000_100.0
JID_A = "2f5a0c1d9e8b7a6f5e4d3c2b"
JID_B = "0123456789abcdef01234567"
JID_C = "fedcba9876543210fedcba98"


def sidekiq7_job(jid: str = JID_A, *, queue: str = "default", **extra: Any) -> bytes:
    """A payload as Ruby Sidekiq 6.x/7.x writes it (compact JSON, float-second timestamps)."""
    job = {"retry": True, "queue": queue, "class": "HardJob", "args": [1], "jid": jid,
           "created_at": 1700000000.123, "enqueued_at": 1700000000.124}  # fmt: skip
    job.update(extra)
    return json.dumps(job, separators=(",", ":")).encode()


def sidekiq8_job(jid: str = JID_B, *, queue: str = "default", **extra: Any) -> bytes:
    """A payload as Sidekiq 8 writes it: timestamps in integer milliseconds."""
    job = {"retry": True, "queue": queue, "class": "HardJob", "args": [2], "jid": jid,
           "created_at": 1700000000123, "enqueued_at": 1700000000124}  # fmt: skip
    job.update(extra)
    return json.dumps(job, separators=(",", ":")).encode()


def ruby_backtrace(lines: list[str]) -> str:
    """``Base64.encode64(Zlib::Deflate.deflate(JSON.dump(lines)))``: wrapped every 60 chars."""
    data = base64.b64encode(zlib.compress(json.dumps(lines).encode())).decode()
    return "".join(data[i : i + 60] + "\n" for i in range(0, len(data), 60))


def failed_job(jid: str, retry_count: int = 2, **extra: Any) -> bytes:
    return sidekiq7_job(
        jid, error_message="boom", error_class="RuntimeError", failed_at=1700000001.5,
        retried_at=1700000002.5, retry_count=retry_count, **extra,
    )  # fmt: skip


def enqueue(client: redis.Redis, queue: str, *raws: bytes) -> None:
    client.sadd(keys.QUEUES, queue)
    client.lpush(keys.queue(queue), *raws)


def head(client: redis.Redis, queue: str) -> bytes:
    """The newest job pushed to ``queue``."""
    raw = client.lindex(keys.queue(queue), 0)
    assert isinstance(raw, bytes)
    return raw


def queued(client: redis.Redis, queue: str = "default") -> list[dict[str, Any]]:
    """The jobs in ``queue``, head first."""
    return [orjson.loads(raw) for raw in reversed(client.lrange(keys.queue(queue), 0, -1))]


def test_public_api_is_pinned() -> None:
    assert sorted(henchman.api.__all__) == [
        "BatchSet", "BatchStatus", "ClassMetrics", "DeadSet", "IterationRecord",
        "IterationState", "JobMetrics", "JobRecord", "JobResult", "LimiterRecord", "LimiterSet",
        "MetricsQuery", "PeriodicRecord", "PeriodicRun", "PeriodicSet",
        "ProcessRecord", "ProcessSet", "Queue", "QueueSummary",
        "RetrySet", "ScheduledSet", "SortedSet", "Stats", "StatsSummary", "TopJobs",
        "WorkRecord", "WorkSet",
    ]  # fmt: skip


# -- JobRecord -------------------------------------------------------------------------------


def test_record_reads_a_sidekiq7_payload() -> None:
    record = JobRecord(failed_job(JID_A, error_backtrace=ruby_backtrace(["a.rb:1", "b.rb:2"])))
    assert record.ok
    assert record.error is None
    assert (record.jid, record.klass, record.args, record.queue) == (
        JID_A,
        "HardJob",
        [1],
        "default",
    )
    assert record.created_at == pytest.approx(1700000000.123)
    assert record.enqueued_at == pytest.approx(1700000000.124)
    assert record.failed_at == pytest.approx(1700000001.5)
    assert record.retried_at == pytest.approx(1700000002.5)
    assert (record.error_class, record.error_message, record.retry_count) == (
        "RuntimeError",
        "boom",
        2,
    )
    assert record.backtrace == ["a.rb:1", "b.rb:2"]
    assert record.latency(NOW) == pytest.approx(NOW - 1700000000.124)


def test_record_reads_sidekiq8_millisecond_timestamps() -> None:
    record = JobRecord(sidekiq8_job(failed_at=1700000001500))
    assert record.created_at == pytest.approx(1700000000.123)
    assert record.enqueued_at == pytest.approx(1700000000.124)
    assert record.failed_at == pytest.approx(1700000001.5)


def test_corrupt_record_keeps_raw_text_and_error() -> None:
    record = JobRecord(b'{"class":"Hard')
    assert not record.ok
    assert "not valid JSON" in (record.error or "")
    assert record.text == '{"class":"Hard'
    assert (record.jid, record.klass, record.args, record.retry_count) == ("", "", [], None)
    assert record.to_dict()["raw"] == '{"class":"Hard'


def test_record_without_class_is_flagged_but_readable() -> None:
    record = JobRecord(b'{"jid":"abc","args":[1]}')
    assert record.error == "payload has no 'class' naming the job"
    assert record.jid == "abc"


def test_undecodable_backtrace_does_not_raise() -> None:
    record = JobRecord(failed_job(JID_A, error_backtrace="not base64 zlib!"))
    assert len(record.backtrace) == 1
    assert "could not be decoded" in record.backtrace[0]


def test_record_shows_the_class_wrapped_by_activejob() -> None:
    wrapper: dict[str, Any] = {"class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
                               "args": [{"job_class": "ReportJob", "arguments": []}]}  # fmt: skip
    raw = sidekiq7_job(**wrapper)
    assert JobRecord(raw).display_class == "ReportJob"


# -- Stats -----------------------------------------------------------------------------------


def seed_stats(client: redis.Redis) -> None:
    client.set(keys.STAT_PROCESSED, 120)
    client.set(keys.STAT_FAILED, 7)
    client.zadd(keys.SCHEDULE, {sidekiq7_job(JID_A): NOW + 60})
    client.zadd(keys.RETRY, {failed_job(JID_B): NOW + 30, failed_job(JID_C): NOW + 40})
    client.zadd(keys.DEAD, {failed_job(JID_A): NOW - 10})
    enqueue(client, "default", sidekiq7_job(JID_A), sidekiq7_job(JID_B))
    enqueue(client, "critical", sidekiq8_job(JID_C, queue="critical"))
    for identity, busy in (("host:1:aaa", 3), ("host:2:bbb", 2)):
        client.sadd(keys.PROCESSES, identity)
        client.hset(identity, mapping={"info": b"{}", "busy": busy})


def test_stats_counts_every_set_and_queue(redis_db: RedisDb) -> None:
    seed_stats(redis_db.client)
    stats = Stats(redis_db.client, clock=lambda: NOW)
    assert (stats.processed, stats.failed) == (120, 7)
    assert (stats.scheduled_size, stats.retry_size, stats.dead_size) == (1, 2, 1)
    assert stats.enqueued == 3
    assert stats.queue_sizes() == {"default": 2, "critical": 1}
    assert (stats.processes_size, stats.workers_size) == (2, 5)
    assert stats.default_queue_latency == pytest.approx(NOW - 1700000000.124)
    summary = stats.summary()
    assert summary.to_dict() == {
        "processed": 120, "failed": 7, "scheduled_size": 1, "retry_size": 2, "dead_size": 1,
        "enqueued": 3, "processes_size": 2, "workers_size": 5,
        "default_queue_latency": stats.default_queue_latency, "recovered": 0,
    }  # fmt: skip


def test_stats_on_an_empty_database_are_zero(redis_db: RedisDb) -> None:
    summary = Stats(redis_db.client).summary()
    assert summary.processed == summary.enqueued == summary.workers_size == 0
    assert summary.default_queue_latency == 0.0


def test_history_reads_daily_keys_newest_first(redis_db: RedisDb) -> None:
    client = redis_db.client
    client.set(keys.stat_processed_day("2023-11-14"), 10)  # NOW is 2023-11-14 22:15 UTC
    client.set(keys.stat_failed_day("2023-11-14"), 1)
    client.set(keys.stat_processed_day("2023-11-12"), 5)
    history = Stats(client, clock=lambda: NOW).history(3)
    assert list(history.items()) == [
        ("2023-11-14", (10, 1)), ("2023-11-13", (0, 0)), ("2023-11-12", (5, 0)),
    ]  # fmt: skip


def test_history_rejects_an_empty_range(redis_db: RedisDb) -> None:
    with pytest.raises(ValueError, match="days must be between"):
        Stats(redis_db.client).history(0)


# -- Queue -----------------------------------------------------------------------------------


def test_queue_all_is_sorted_by_name(redis_db: RedisDb) -> None:
    for name in ("mailers", "critical", "default"):
        enqueue(redis_db.client, name, sidekiq7_job(queue=name))
    assert [q.name for q in Queue.all(redis_db.client)] == ["critical", "default", "mailers"]


def test_queue_latency_accepts_seconds_and_milliseconds(redis_db: RedisDb) -> None:
    client = redis_db.client
    enqueue(client, "old", sidekiq7_job(queue="old"))
    enqueue(client, "new", sidekiq8_job(queue="new"))
    assert Queue(client, "old", clock=lambda: NOW).latency == pytest.approx(NOW - 1700000000.124)
    assert Queue(client, "new", clock=lambda: NOW).latency == pytest.approx(NOW - 1700000000.124)
    assert Queue(client, "empty").latency == 0.0


def test_queue_latency_measures_the_head(redis_db: RedisDb) -> None:
    enqueue(redis_db.client, "default", sidekiq7_job(JID_A), sidekiq7_job(JID_B, enqueued_at=NOW))
    assert Queue(redis_db.client, clock=lambda: NOW).latency == pytest.approx(NOW - 1700000000.124)


def test_queue_iterates_newest_first_and_pages(redis_db: RedisDb) -> None:
    jids = [f"{i:024x}" for i in range(120)]
    enqueue(redis_db.client, "default", *(sidekiq7_job(jid) for jid in jids))
    queue = Queue(redis_db.client)
    assert queue.size == 120
    assert [r.jid for r in queue] == jids[::-1]
    assert [r.jid for r in queue.page(5, 3)] == jids[::-1][5:8]
    assert all(r.queue == "default" for r in queue.page(0, 2))


def test_deleting_while_iterating_skips_nothing(redis_db: RedisDb) -> None:
    jids = [f"{i:024x}" for i in range(120)]
    enqueue(redis_db.client, "default", *(sidekiq7_job(jid) for jid in jids))
    queue = Queue(redis_db.client)
    seen = []
    for record in queue:
        seen.append(record.jid)
        assert queue.delete(record)
    assert sorted(seen) == sorted(jids)
    assert queue.size == 0


def test_queue_find_and_delete_by_exact_bytes(redis_db: RedisDb) -> None:
    enqueue(redis_db.client, "default", sidekiq7_job(JID_A), sidekiq8_job(JID_B))
    queue = Queue(redis_db.client)
    record = queue.find_job(JID_B)
    assert record is not None
    assert record.created_at == pytest.approx(1700000000.123)
    assert queue.find_job("0" * 24) is None
    assert queue.delete(record)
    assert not queue.delete(record)
    assert [r.jid for r in queue] == [JID_A]


def test_queue_lists_a_corrupt_entry_and_can_delete_it(redis_db: RedisDb) -> None:
    enqueue(redis_db.client, "default", sidekiq7_job(JID_A), b"\xff{not json")
    queue = Queue(redis_db.client)
    records = queue.page(0, 10)
    assert [r.ok for r in records] == [False, True]
    assert records[0].text == "\ufffd{not json"
    assert queue.delete(records[0])
    assert queue.size == 1


def test_latency_with_a_corrupt_head_is_zero(redis_db: RedisDb) -> None:
    enqueue(redis_db.client, "default", b"garbage")
    assert Queue(redis_db.client).latency == 0.0


def test_queue_clear_forgets_the_queue(redis_db: RedisDb) -> None:
    enqueue(redis_db.client, "default", sidekiq7_job())
    enqueue(redis_db.client, "other", sidekiq7_job(queue="other"))
    Queue(redis_db.client).clear()
    assert not redis_db.client.exists(keys.queue("default"))
    assert [q.name for q in Queue.all(redis_db.client)] == ["other"]


def test_queue_paused_reads_the_paused_set(redis_db: RedisDb) -> None:
    queue = Queue(redis_db.client, "mailers")
    assert not queue.paused
    redis_db.client.sadd(keys.PAUSED, "mailers")
    assert queue.paused
    queue.unpause()
    assert not queue.paused
    queue.pause()
    assert redis_db.client.smembers(keys.PAUSED) == {b"mailers"}


# -- sorted sets -----------------------------------------------------------------------------


def test_sorted_set_iterates_newest_first_and_pages(redis_db: RedisDb) -> None:
    jids = [f"{i:024x}" for i in range(120)]
    redis_db.client.zadd(keys.RETRY, {failed_job(jid): NOW + i for i, jid in enumerate(jids)})
    retries = RetrySet(redis_db.client)
    assert retries.size == 120
    records = list(retries)
    assert [r.jid for r in records] == jids[::-1]
    assert records[0].score == records[0].at == NOW + 119
    assert [r.jid for r in retries.page(10, 2)] == [jids[109], jids[108]]


def test_sorted_set_deleting_while_iterating_skips_nothing(redis_db: RedisDb) -> None:
    jids = [f"{i:024x}" for i in range(120)]
    redis_db.client.zadd(keys.DEAD, {failed_job(jid): NOW - i for i, jid in enumerate(jids)})
    dead = DeadSet(redis_db.client)
    seen = [r.jid for r in dead if dead.delete(r)]
    assert sorted(seen) == sorted(jids)
    assert dead.size == 0


def test_find_job_and_scan(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {
        sidekiq7_job(JID_A, args=["needle*[x]"]): NOW, sidekiq7_job(JID_B): NOW + 1,
        b"corrupt needle*[x]": NOW + 2,
    })  # fmt: skip
    scheduled = ScheduledSet(redis_db.client)
    found = scheduled.find_job(JID_B)
    assert found is not None
    assert found.score == NOW + 1
    assert scheduled.find_job("f" * 24) is None
    assert sorted(r.text for r in scheduled.scan("needle*[x]")) == sorted(
        [b"corrupt needle*[x]".decode(), sidekiq7_job(JID_A, args=["needle*[x]"]).decode()]
    )
    assert list(scheduled.scan("needle?")) == []  # glob characters match literally
    assert [r.jid for r in scheduled.fetch(NOW + 1)] == [JID_B]
    assert scheduled.fetch(NOW + 1, JID_A) == []


def test_manual_retry_decrements_retry_count_and_stamps_enqueued_at(redis_db: RedisDb) -> None:
    client = redis_db.client
    first_failure = failed_job(JID_A, retry_count=0)
    client.zadd(keys.RETRY, {first_failure: NOW + 30, failed_job(JID_B, retry_count=3): NOW + 40})
    retries = RetrySet(client, clock=lambda: NOW)
    record = retries.find_job(JID_A)
    assert record is not None
    assert retries.retry(record)
    assert client.smembers(keys.QUEUES) == {b"default"}
    raw = client.lindex(keys.queue("default"), 0)
    # Only the two fields changed; every other byte of the Ruby-written payload is kept.
    expected = first_failure.replace(b'"enqueued_at":1700000000.124', b'"enqueued_at":1700000100.0')
    assert raw == expected.replace(b'"retry_count":0', b'"retry_count":-1')
    assert retries.size == 1
    assert not retries.retry(record)  # already gone: nothing pushed twice
    assert client.llen(keys.queue("default")) == 1


def test_retry_of_a_sidekiq8_payload_writes_float_seconds(redis_db: RedisDb) -> None:
    client = redis_db.client
    client.zadd(keys.DEAD, {sidekiq8_job(JID_B, queue="critical", retry_count=25): NOW})
    dead = DeadSet(client, clock=lambda: NOW)
    record = dead.find_job(JID_B)
    assert record is not None
    assert dead.retry(record)
    raw = head(client, "critical")
    assert b'"enqueued_at":1700000100.0' in raw
    job = orjson.loads(raw)
    assert (job["retry_count"], job["created_at"]) == (24, 1700000000123)


def test_retry_rewrites_top_level_fields_even_if_args_contain_them(redis_db: RedisDb) -> None:
    client = redis_db.client
    args = [{"enqueued_at": 1, "retry_count": 9}]
    client.zadd(keys.RETRY, {failed_job(JID_A, retry_count=4, args=args): NOW})
    retries = RetrySet(client, clock=lambda: NOW)
    record = retries.find_job(JID_A)
    assert record is not None
    assert retries.retry(record)
    job = orjson.loads(head(client, "default"))
    assert (job["args"], job["retry_count"], job["enqueued_at"]) == (args, 3, NOW)


def test_add_to_queue_keeps_retry_count_and_adds_enqueued_at(redis_db: RedisDb) -> None:
    client = redis_db.client
    raw = b'{"retry":true,"queue":"low","class":"Later","args":[],"jid":"%s","retry_count":1}'
    client.zadd(keys.SCHEDULE, {raw % JID_C.encode(): NOW + 600})
    scheduled = ScheduledSet(client, clock=lambda: NOW)
    record = scheduled.find_job(JID_C)
    assert record is not None
    assert scheduled.add_to_queue(record)
    assert queued(client, "low") == [{**orjson.loads(record.raw), "enqueued_at": NOW}]
    assert scheduled.size == 0


def test_retrying_a_corrupt_entry_sends_it_to_default_unchanged(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {b"{broken": NOW})
    retries = RetrySet(redis_db.client)
    (record,) = retries.page()
    assert record.error is not None
    assert retries.retry(record)
    assert redis_db.client.lrange(keys.queue("default"), 0, -1) == [b"{broken"]


def test_delete_removes_exact_bytes(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {failed_job(JID_A): NOW, failed_job(JID_B): NOW})
    retries = RetrySet(redis_db.client)
    record = retries.find_job(JID_A)
    assert record is not None
    assert retries.delete(record)
    assert not retries.delete(record)
    assert [r.jid for r in retries] == [JID_B]


def test_kill_moves_to_dead_with_now_score(redis_db: RedisDb) -> None:
    client = redis_db.client
    client.zadd(keys.RETRY, {failed_job(JID_A): NOW + 30})
    retries = RetrySet(client, clock=lambda: NOW)
    record = retries.find_job(JID_A)
    assert record is not None
    assert retries.kill(record)
    assert client.zrange(keys.DEAD, 0, -1, withscores=True) == [(record.raw, NOW)]
    assert retries.size == 0
    assert not retries.kill(record)


def test_kill_trims_the_dead_set_by_count_and_age(redis_db: RedisDb) -> None:
    client = redis_db.client
    client.zadd(keys.DEAD, {failed_job(f"{i:024x}"): NOW - 100 + i for i in range(5)})
    client.zadd(keys.DEAD, {failed_job(JID_C): NOW - 181 * 86400})  # older than 180 days
    client.zadd(keys.SCHEDULE, {sidekiq7_job(JID_A): NOW + 5})
    scheduled = ScheduledSet(client, clock=lambda: NOW, dead_max_jobs=3)
    record = scheduled.find_job(JID_A)
    assert record is not None
    assert scheduled.kill(record)
    assert [r.jid for r in DeadSet(client)] == [JID_A, f"{4:024x}", f"{3:024x}"]


def test_retry_all_kill_all_and_clear(redis_db: RedisDb) -> None:
    client = redis_db.client
    jids = [f"{i:024x}" for i in range(250)]
    client.zadd(keys.RETRY, {failed_job(jid, retry_count=1): NOW + i for i, jid in enumerate(jids)})
    assert RetrySet(client, clock=lambda: NOW).retry_all() == 250
    jobs = queued(client)
    assert [j["jid"] for j in jobs] == jids  # oldest first at the head
    assert {j["retry_count"] for j in jobs} == {0}

    client.zadd(keys.SCHEDULE, {sidekiq7_job(jid): NOW + i for i, jid in enumerate(jids[:7])})
    assert ScheduledSet(client, clock=lambda: NOW).kill_all() == 7
    dead = DeadSet(client, clock=lambda: NOW)
    assert (dead.size, ScheduledSet(client).size) == (7, 0)
    assert dead.retry_all() == 7
    assert dead.size == 0

    client.zadd(keys.DEAD, {failed_job(JID_A): NOW})
    assert dead.clear() == 1
    assert not client.exists(keys.DEAD)


# -- processes and running work --------------------------------------------------------------


def write_process(client: redis.Redis, identity: str, info: bytes | None, **fields: Any) -> None:
    client.sadd(keys.PROCESSES, identity)
    mapping: dict[str, Any] = dict(fields)
    if info is not None:
        mapping["info"] = info
    client.hset(identity, mapping=mapping)  # type: ignore[arg-type]
    client.expire(identity, 60)


def henchman_process(client: redis.Redis, identity: str = "web.1:101:a1b2c3") -> None:
    host, pid, _ = identity.split(":")
    info = orjson.dumps({"hostname": host, "started_at": NOW - 50, "pid": int(pid), "tag": "app",
                         "concurrency": 10, "queues": ["default"], "labels": ["py"],
                         "identity": identity, "version": "0.1.0"})  # fmt: skip
    write_process(client, identity, info, busy=2, beat=repr(NOW), quiet="false", rss=51200,
                  rtt_us=120, concurrency=10)  # fmt: skip


def sidekiq64_process(client: redis.Redis, identity: str = "ruby.1:202:d4e5f6") -> None:
    """Sidekiq 6.4: concurrency only in ``info``, running work in ``<identity>:workers``."""
    info = orjson.dumps({"hostname": "ruby.1", "started_at": NOW - 80, "pid": 202, "tag": "",
                         "concurrency": 5, "queues": ["default", "mailers"], "labels": [],
                         "identity": identity})  # fmt: skip
    write_process(client, identity, info, busy=1, beat=str(NOW), quiet="true", rss=90000,
                  rtt_us=300)  # fmt: skip


def test_process_set_lists_henchman_and_sidekiq_processes(redis_db: RedisDb) -> None:
    henchman_process(redis_db.client)
    sidekiq64_process(redis_db.client)
    processes = ProcessSet(redis_db.client)
    ruby, web = processes.all()
    assert (web.identity, web.hostname, web.pid, web.tag) == (
        "web.1:101:a1b2c3",
        "web.1",
        101,
        "app",
    )
    assert (web.busy, web.concurrency, web.quiet, web.beat, web.rss) == (2, 10, False, NOW, 51200)
    assert (ruby.concurrency, ruby.quiet, ruby.queues) == (5, True, ["default", "mailers"])
    assert ruby.started_at == NOW - 80
    assert (processes.size, processes.total_concurrency, processes.total_busy) == (2, 15, 3)
    assert processes.find("ruby.1:202:d4e5f6") == ruby
    assert processes.find("nope:1:x") is None


def test_reading_processes_forgets_only_members_whose_hash_is_gone(redis_db: RedisDb) -> None:
    client = redis_db.client
    henchman_process(client)
    client.sadd(keys.PROCESSES, "gone:1:x")  # died: its hash expired
    write_process(client, "noinfo:2:y", None, busy=1)  # hash without info: maybe alive
    write_process(client, "bad:3:z", b"{not json", busy=1)  # unreadable info: skipped
    assert [p.identity for p in ProcessSet(client)] == ["web.1:101:a1b2c3"]
    assert client.smembers(keys.PROCESSES) == {b"web.1:101:a1b2c3", b"noinfo:2:y", b"bad:3:z"}


def test_signals_use_sidekiqs_signal_list(redis_db: RedisDb) -> None:
    client = redis_db.client
    henchman_process(client)
    sidekiq64_process(client)
    processes = ProcessSet(client)
    processes.quiet("web.1:101:a1b2c3")
    processes.dump_stacks("web.1:101:a1b2c3")
    processes.stop("ruby.1:202:d4e5f6")
    assert client.lrange("web.1:101:a1b2c3-signals", 0, -1) == [b"TTIN", b"TSTP"]
    assert client.lrange("ruby.1:202:d4e5f6-signals", 0, -1) == [b"TERM"]
    assert 0 < client.ttl("web.1:101:a1b2c3-signals") <= 60
    assert processes.quiet_all() == 2
    assert processes.stop_all() == 2
    assert client.lrange("ruby.1:202:d4e5f6-signals", 0, -1) == [b"TERM", b"TSTP", b"TERM"]


def test_work_set_reads_every_layout(redis_db: RedisDb) -> None:
    client = redis_db.client
    henchman_process(client)
    sidekiq64_process(client)
    as_object = {"queue": "default", "payload": orjson.loads(sidekiq7_job(JID_A)),
                 "run_at": int(NOW) - 5}  # fmt: skip
    client.hset("web.1:101:a1b2c3:work", "abc", orjson.dumps(as_object))
    as_string = {
        "queue": "mailers",
        "payload": sidekiq8_job(JID_B, queue="mailers").decode(),
        "run_at": int(NOW * 1000) - 20_000,
    }  # Sidekiq 7/8: payload is a JSON string
    client.hset("ruby.1:202:d4e5f6:workers", "tid-1", orjson.dumps(as_string))
    client.sadd(keys.PROCESSES, "dead:9:q")  # no heartbeat hash: its work is not listed
    client.hset("dead:9:q:work", "x", orjson.dumps(as_object))
    work = WorkSet(client)
    first, second = work.all()
    assert (first.identity, first.thread_id, first.queue) == (
        "ruby.1:202:d4e5f6",
        "tid-1",
        "mailers",
    )
    assert first.run_at == pytest.approx(NOW - 20)
    assert (first.job.jid, first.job.klass) == (JID_B, "HardJob")
    assert (second.identity, second.queue, second.run_at, second.job.jid) == (
        "web.1:101:a1b2c3", "default", int(NOW) - 5, JID_A,
    )  # fmt: skip
    assert work.size == 3  # the sum of busy, as Sidekiq counts it
    assert work.find(JID_A) == second
    assert work.find("0" * 24) is None


def test_work_set_prefers_work_over_workers_and_survives_bad_entries(redis_db: RedisDb) -> None:
    client = redis_db.client
    henchman_process(client)
    entry = {"queue": "default", "payload": orjson.loads(sidekiq7_job(JID_A)), "run_at": 1}
    client.hset("web.1:101:a1b2c3:work", mapping={"a": orjson.dumps(entry), "b": b"junk"})
    client.hset("web.1:101:a1b2c3:workers", "a", orjson.dumps(entry))
    records = WorkSet(client).all()
    assert [(w.thread_id, w.error is None) for w in records] == [("a", True), ("b", False)]
    assert records[1].job.text == "junk"
