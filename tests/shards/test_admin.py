"""The admin API, CLI and Web UI over two shards: listing both, acting on the right one."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
from click.testing import CliRunner, Result

from henchman import keys
from henchman.cli.admin_cmds import dead, queues, retry, stats
from henchman.config import Settings
from henchman.shards.admin import ShardAdmin
from henchman.web import create_app
from tests.conftest import RedisDB
from tests.web.conftest import form_token, serve


def job(jid: str, queue: str, **extra: Any) -> bytes:
    payload = {"retry": True, "queue": queue, "class": "HardJob", "args": [1], "jid": jid,
               "created_at": 1700000000.0, "enqueued_at": 1700000000.0, **extra}  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


def failed(jid: str, queue: str) -> bytes:
    return job(jid, queue, error_class="RuntimeError", error_message="boom", retry_count=1,
               failed_at=1700000001.0)  # fmt: skip


def fill(redis_db: RedisDB, other_db: RedisDB) -> None:
    """``mail`` (2 jobs) on the default shard, ``reports`` (1 job) on the other; one retry and
    one dead job on each shard."""
    redis_db.client.sadd(keys.QUEUES, "mail")
    redis_db.client.lpush(keys.queue("mail"), job("m" * 24, "mail"), job("n" * 24, "mail"))
    other_db.client.sadd(keys.QUEUES, "reports")
    other_db.client.lpush(keys.queue("reports"), job("r" * 24, "reports"))
    redis_db.client.zadd(keys.RETRY, {failed("a" * 24, "mail"): 1700000100.0})
    other_db.client.zadd(keys.RETRY, {failed("b" * 24, "reports"): 1700000200.0})
    redis_db.client.zadd(keys.DEAD, {failed("c" * 24, "mail"): 1700000100.0})
    other_db.client.zadd(keys.DEAD, {failed("d" * 24, "reports"): 1700000200.0})


def settings(redis_db: RedisDB, other_db: RedisDB) -> Settings:
    return redis_db.settings(shards={"reports": other_db.url})


def run(redis_db: RedisDB, other_db: RedisDB, command: click.Command, *args: str) -> Result:
    obj = {"settings": settings(redis_db, other_db)}
    return CliRunner().invoke(command, list(args), obj=obj)


def test_the_admin_api_lists_the_queues_of_both_shards_with_their_shard(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    admin = ShardAdmin(settings(redis_db, other_db), redis_db.client)
    try:
        found = [(q.name, q.size, q.shard) for q in admin.queue_summaries()]
    finally:
        admin.close()
    assert found == [("mail", 2, "default"), ("reports", 1, other_db.url)]


def test_the_admin_api_merges_the_retry_sets_newest_first(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    admin = ShardAdmin(settings(redis_db, other_db), redis_db.client)
    try:
        retries = admin.retries()
        assert retries.size == 2
        assert [r.jid for r in retries.page(0, 10)] == ["b" * 24, "a" * 24]
        assert [r.jid for r in retries.page(1, 1)] == ["a" * 24]
        assert [r.jid for r in retries] == ["b" * 24, "a" * 24]
    finally:
        admin.close()


def test_a_retry_from_the_merged_set_goes_to_the_queue_on_the_jobs_shard(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    admin = ShardAdmin(settings(redis_db, other_db), redis_db.client)
    try:
        retries = admin.retries()
        record = retries.find_job("b" * 24)
        assert record is not None
        assert retries.retry(record)
    finally:
        admin.close()
    assert other_db.client.zcard(keys.RETRY) == 0
    assert other_db.client.llen(keys.queue("reports")) == 2
    assert redis_db.client.llen(keys.queue("reports")) == 0
    assert redis_db.client.zcard(keys.RETRY) == 1


def test_killing_a_retry_moves_it_to_the_dead_set_of_its_shard(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    admin = ShardAdmin(settings(redis_db, other_db), redis_db.client)
    try:
        retries = admin.retries()
        record = retries.find_job("b" * 24)
        assert record is not None
        assert retries.kill(record)
    finally:
        admin.close()
    dead_jids = [json.loads(raw)["jid"] for raw in other_db.client.zrange(keys.DEAD, 0, -1)]
    assert "b" * 24 in dead_jids
    assert other_db.client.zcard(keys.RETRY) == 0
    assert not redis_db.client.zscan(keys.DEAD, match="*bbbbbbbb*")[1]


def test_stats_are_summed_over_the_shards(redis_db: RedisDB, other_db: RedisDB) -> None:
    fill(redis_db, other_db)
    redis_db.client.set(keys.STAT_PROCESSED, 10)
    admin = ShardAdmin(settings(redis_db, other_db), redis_db.client)
    try:
        summary = admin.summary()
    finally:
        admin.close()
    assert (summary.enqueued, summary.retry_size, summary.dead_size) == (3, 2, 2)
    assert summary.processed == 10


def test_pausing_a_queue_on_a_shard_writes_the_default_shards_paused_set(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, queues, "pause", "reports")
    assert result.exit_code == 0, result.output
    assert redis_db.client.sismember(keys.PAUSED, "reports")  # where workers read it
    assert not other_db.client.exists(keys.PAUSED)


def test_the_cli_lists_the_queues_of_both_shards_with_a_shard_column(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, queues, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["size"], r["shard"]) for r in rows] == [
        ("mail", 2, "default"),
        ("reports", 1, other_db.url),
    ]
    table = run(redis_db, other_db, queues).output
    assert "SHARD" in table
    assert other_db.url in table


def test_the_cli_lists_the_dead_jobs_of_both_shards(redis_db: RedisDB, other_db: RedisDB) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, dead, "list", "--json")
    assert result.exit_code == 0, result.output
    assert [r["jid"] for r in json.loads(result.output)] == ["d" * 24, "c" * 24]


def test_the_cli_deletes_a_retry_on_the_shard_that_holds_it(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, retry, "delete", "b" * 24)
    assert result.exit_code == 0, result.output
    assert other_db.client.zcard(keys.RETRY) == 0
    assert redis_db.client.zcard(keys.RETRY) == 1


def test_the_cli_stats_count_every_shard(redis_db: RedisDB, other_db: RedisDB) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, stats, "--json")
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output)["stats"]
    assert (numbers["enqueued"], numbers["retry_size"], numbers["dead_size"]) == (3, 2, 2)


def test_the_cli_clears_a_queue_on_its_shard(redis_db: RedisDB, other_db: RedisDB) -> None:
    fill(redis_db, other_db)
    result = run(redis_db, other_db, queues, "clear", "reports", "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 job" in result.output
    assert other_db.client.llen(keys.queue("reports")) == 0


def test_the_web_ui_lists_the_queues_and_retries_of_both_shards(
    redis_db: RedisDB, other_db: RedisDB
) -> None:
    fill(redis_db, other_db)
    ui = create_app(settings(redis_db, other_db))
    try:
        with serve(ui) as url, httpx.Client(base_url=url) as http:
            page = http.get("/queues")
            assert page.status_code == 200
            assert "<th>Shard</th>" in page.text
            assert "reports" in page.text
            assert other_db.url in page.text
            retries = http.get("/retries")
            assert "b" * 24 in retries.text
            assert "a" * 24 in retries.text
            assert http.get("/stats").json()["henchman"]["enqueued"] == 3
    finally:
        ui.state.henchman.close()


def test_the_web_ui_clears_a_queue_on_its_shard(redis_db: RedisDB, other_db: RedisDB) -> None:
    fill(redis_db, other_db)
    ui = create_app(settings(redis_db, other_db))
    try:
        with serve(ui) as url, httpx.Client(base_url=url) as http:
            token = form_token(http, "/queues")
            done = http.post("/queues/reports", data={"action": "clear", "csrf_token": token})
            assert done.status_code in (302, 303)
    finally:
        ui.state.henchman.close()
    assert other_db.client.llen(keys.queue("reports")) == 0
    assert redis_db.client.llen(keys.queue("mail")) == 2


def test_the_cli_enqueues_to_the_queues_shard(redis_db: RedisDB, other_db: RedisDB) -> None:
    from henchman.cli.admin_cmds import enqueue

    result = run(redis_db, other_db, enqueue, "HardJob", "[1]", "--queue", "reports")
    assert result.exit_code == 0, result.output
    assert other_db.client.llen(keys.queue("reports")) == 1
    assert redis_db.client.llen(keys.queue("reports")) == 0
