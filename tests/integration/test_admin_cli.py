"""The admin commands through click's CliRunner, on a real server with Sidekiq-format
data; settings are passed the way the main group passes them (``obj={"settings": ...}``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner, Result

from henchman import keys
from henchman.cli.admin_cmds import COMMANDS, dead, enqueue, queues, quiet, retry, stats, stop
from henchman.config import Settings
from tests.conftest import RedisDB as RedisDb

JID_A = "2f5a0c1d9e8b7a6f5e4d3c2b"
JID_B = "0123456789abcdef01234567"
NOW = 1_700_000_100.0


def sidekiq_job(jid: str, **extra: Any) -> bytes:
    job = {"retry": True, "queue": "default", "class": "HardJob", "args": [1], "jid": jid,
           "created_at": 1700000000.123, "enqueued_at": 1700000000.124}  # fmt: skip
    job.update(extra)
    return json.dumps(job, separators=(",", ":")).encode()


def failed(jid: str, retry_count: int = 1) -> bytes:
    return sidekiq_job(jid, error_class="RuntimeError", error_message="boom\nsecond line",
                       failed_at=1700000001.0, retry_count=retry_count)  # fmt: skip


def run(db: RedisDb, command: click.Command, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(command, list(args), obj={"settings": Settings(redis_url=db.url)})


def add_process(db: RedisDb, identity: str, busy: int = 1, **fields: str) -> None:
    info = orjson.dumps({"hostname": "h", "pid": 1, "tag": "app", "concurrency": 5,
                         "queues": ["default"], "identity": identity})  # fmt: skip
    db.client.sadd(keys.PROCESSES, identity)
    db.client.hset(identity, mapping={"info": info, "busy": busy, "beat": repr(NOW),
                                      "quiet": "false", **fields})  # fmt: skip


def test_commands_are_exported() -> None:
    names = sorted(c.name or "" for c in COMMANDS)
    assert names == [
        "batches", "dead", "enqueue", "iteration", "periodic", "queues", "quiet", "retry",
        "scheduled", "stats", "stop",
    ]  # fmt: skip


def test_stats_prints_counts_queues_and_processes(redis_db: RedisDb) -> None:
    client = redis_db.client
    client.set(keys.STAT_PROCESSED, 1234)
    client.sadd(keys.QUEUES, "default")
    client.lpush(keys.queue("default"), sidekiq_job(JID_A))
    client.zadd(keys.RETRY, {failed(JID_B): NOW})
    add_process(redis_db, "h:1:abc", busy=2)
    result = run(redis_db, stats)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Processed:        1,234"
    assert "Retries:              1" in lines
    assert "Busy:                 2" in lines
    assert any(line.startswith("Default queue latency: ") for line in lines)
    assert lines[lines.index("") + 1].split() == ["QUEUE", "SIZE", "LATENCY", "PAUSED"]
    assert lines[-2].split() == ["PROCESS", "TAG", "BUSY", "QUIET", "BEAT", "PLACEMENT"]
    assert lines[-1].startswith("h:1:abc  app  2/5   no")


def test_stats_shows_where_each_process_runs_its_threads(redis_db: RedisDb) -> None:
    add_process(redis_db, "h:1:abc", placement="auto: CPU 1")
    add_process(redis_db, "h:2:def")  # a Ruby Sidekiq process says nothing about it
    lines = run(redis_db, stats).output.splitlines()
    assert lines[-2].rstrip().endswith("auto: CPU 1")
    assert lines[-1].rstrip().endswith("-")
    data = json.loads(run(redis_db, stats, "--json").output)
    assert [p["placement"] for p in data["processes"]] == ["auto: CPU 1", ""]


def test_stats_json(redis_db: RedisDb) -> None:
    add_process(redis_db, "h:1:abc")
    result = run(redis_db, stats, "--json")
    data = json.loads(result.output)
    assert data["stats"]["processes_size"] == 1
    assert data["queues"] == []
    assert data["processes"][0]["identity"] == "h:1:abc"


def test_queues_table_and_json(redis_db: RedisDb) -> None:
    client = redis_db.client
    for name in ("mailers", "default"):
        client.sadd(keys.QUEUES, name)
        client.lpush(keys.queue(name), sidekiq_job(JID_A, queue=name))
    client.sadd(keys.PAUSED, "mailers")
    lines = run(redis_db, queues).output.splitlines()
    assert lines[0].split() == ["QUEUE", "SIZE", "LATENCY", "PAUSED"]
    assert lines[1].split()[:2] == ["default", "1"]
    assert lines[2].split()[0] == "mailers"
    assert lines[2].split()[-1] == "yes"
    data = json.loads(run(redis_db, queues, "--json").output)
    assert [(q["name"], q["size"], q["paused"]) for q in data] == [
        ("default", 1, False), ("mailers", 1, True),
    ]  # fmt: skip
    assert data[0]["latency"] > 0


def test_retry_list_shows_jobs_and_a_corrupt_entry(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {failed(JID_A): NOW, b"{corrupt": NOW + 1})
    result = run(redis_db, retry, "list")
    assert result.exit_code == 0, result.output
    header, corrupt, good = result.output.splitlines()
    assert header.split() == ["JID", "CLASS", "QUEUE", "AT", "(UTC)", "RETRIES", "ERROR"]
    assert "unreadable: payload is not valid JSON" in corrupt
    assert good.split()[:3] == [JID_A, "HardJob", "default"]
    assert "RuntimeError: boom second line" in good


def test_list_limit_and_json(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.DEAD, {failed(f"{i:024x}"): NOW + i for i in range(5)})
    result = run(redis_db, dead, "list", "--limit", "2")
    assert len(result.output.splitlines()) == 4
    assert "(2 of 5 shown; use --limit)" in result.output
    data = json.loads(run(redis_db, dead, "list", "--json", "--limit", "3").output)
    assert [job["jid"] for job in data] == [f"{i:024x}" for i in (4, 3, 2)]
    assert data[0]["retry_count"] == 1


def test_retry_one_job_decrements_its_retry_count(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {failed(JID_A, retry_count=0): NOW, failed(JID_B): NOW})
    result = run(redis_db, retry, "retry", JID_A)
    assert result.exit_code == 0, result.output
    (raw,) = redis_db.client.lrange(keys.queue("default"), 0, -1)
    assert orjson.loads(raw)["retry_count"] == -1
    assert redis_db.client.zcard(keys.RETRY) == 1


def test_retry_all_and_delete_all(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {failed(JID_A): NOW, failed(JID_B): NOW})
    assert run(redis_db, retry, "retry", "--all").stdout == "Retried 2 jobs.\n"
    assert redis_db.client.llen(keys.queue("default")) == 2
    redis_db.client.zadd(keys.DEAD, {failed(JID_A): NOW, failed(JID_B): NOW})
    assert run(redis_db, dead, "delete", "--all").output == "Deleted 2 jobs.\n"
    assert not redis_db.client.exists(keys.DEAD)


def test_delete_and_kill_one_job(redis_db: RedisDb) -> None:
    redis_db.client.zadd(keys.RETRY, {failed(JID_A): NOW, failed(JID_B): NOW})
    assert run(redis_db, retry, "delete", JID_A).exit_code == 0
    assert run(redis_db, retry, "kill", JID_B).output == f"Killed {JID_B}.\n"
    assert redis_db.client.zcard(keys.RETRY) == 0
    (killed,) = redis_db.client.zrange(keys.DEAD, 0, -1)
    assert orjson.loads(killed)["jid"] == JID_B  # type: ignore[arg-type]
    assert run(redis_db, dead, "retry", JID_B).exit_code == 0
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_unknown_jid_exits_1(redis_db: RedisDb) -> None:
    result = run(redis_db, dead, "retry", JID_A)
    assert result.exit_code == 1
    assert result.output == f"error: no job {JID_A} in the dead set\n"


@pytest.mark.parametrize("args", [(), (JID_A, "--all")])
def test_retry_needs_exactly_one_of_jid_or_all(redis_db: RedisDb, args: tuple[str, ...]) -> None:
    result = run(redis_db, retry, "retry", *args)
    assert result.exit_code == 2
    assert "give either a JID or --all" in result.output


def test_enqueue_pushes_a_sidekiq_payload(redis_db: RedisDb) -> None:
    result = run(redis_db, enqueue, "HardJob", '[1, "a", {"k": null}]', "--queue", "critical")
    assert result.exit_code == 0, result.output
    jid = result.output.strip()
    (raw,) = redis_db.client.lrange(keys.queue("critical"), 0, -1)
    job = orjson.loads(raw)
    assert (job["class"], job["args"], job["jid"], job["retry"]) == (
        "HardJob", [1, "a", {"k": None}], jid, True,
    )  # fmt: skip
    assert isinstance(job["enqueued_at"], float)
    assert redis_db.client.smembers(keys.QUEUES) == {b"critical"}


@pytest.mark.parametrize(
    ("args", "message"),
    [('{"a": 1}', "must be a JSON array"), ("[1,", "not valid JSON"), ("[NaN]", "not a finite")],
)
def test_enqueue_rejects_bad_args(redis_db: RedisDb, args: str, message: str) -> None:
    result = run(redis_db, enqueue, "HardJob", args)
    assert result.exit_code == 2
    assert message in result.output
    assert redis_db.client.dbsize() == 0


def test_enqueue_bulk_shows_progress(redis_db: RedisDb, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(f"[{i}]\n" for i in range(2500)) + "\n")
    result = run(redis_db, enqueue, "HardJob", "--bulk", str(rows))
    assert result.exit_code == 0, result.output
    assert "Enqueueing" in result.output
    assert "Enqueued 2,500 jobs to queue default." in result.output
    heads = redis_db.client.lrange(keys.queue("default"), -2, -1)
    assert [orjson.loads(raw)["args"] for raw in heads] == [[1], [0]]


def test_enqueue_bulk_pushes_nothing_if_a_line_is_bad(redis_db: RedisDb, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("[1]\n[2]\n3\n")
    result = run(redis_db, enqueue, "HardJob", "--bulk", str(rows))
    assert result.exit_code == 2
    assert "line 3 must be a JSON array" in result.output
    assert redis_db.client.dbsize() == 0


def test_quiet_and_stop_signal_processes(redis_db: RedisDb) -> None:
    add_process(redis_db, "h:1:abc")
    add_process(redis_db, "h:2:def")
    assert run(redis_db, quiet, "h:1:abc").exit_code == 0
    assert run(redis_db, stop, "all").output == "Asked 2 processes to stop.\n"
    assert redis_db.client.lrange("h:1:abc-signals", 0, -1) == [b"TERM", b"TSTP"]
    assert redis_db.client.lrange("h:2:def-signals", 0, -1) == [b"TERM"]


def test_quiet_of_an_unknown_process_exits_1(redis_db: RedisDb) -> None:
    result = run(redis_db, quiet, "nope:1:x")
    assert result.exit_code == 1
    assert "no live process nope:1:x" in result.output
    assert redis_db.client.dbsize() == 0


def test_unreachable_redis_is_one_line_and_exit_2(tmp_path: Path) -> None:
    settings = Settings(redis_url=f"unix://{tmp_path}/missing.sock", redis_timeout=0.5)
    result = CliRunner().invoke(stats, [], obj={"settings": settings})
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot reach Redis at unix://")
    assert result.output.count("\n") == 1


def test_invalid_configuration_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config file found in the working directory
    result = CliRunner().invoke(queues, [], obj={}, env={"HENCHMAN_CONCURRENCY": "ten"})
    assert result.exit_code == 2
    assert result.output.startswith("error: setting 'concurrency' in HENCHMAN_CONCURRENCY")
    assert result.output.count("\n") == 1
