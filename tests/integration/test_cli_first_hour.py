"""What a newcomer meets in the first hour: one clear line per mistake, one error prefix, the CLI
commands people look for, and a worker that stops at once when idle."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import click
import orjson
import pytest
from click.testing import CliRunner, Result

from henchman import keys, payload as wire
from henchman.cli.admin_cmds import dead, queues, quiet, retry, scheduled
from henchman.cli.main import main
from henchman.config import Settings
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, start_worker, stop, wait_for

NOW = 1_700_000_100.0


def henchman(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [henchman_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def admin(db: RedisDB, command: click.Command, *args: str) -> Result:
    return CliRunner().invoke(command, list(args), obj={"settings": Settings(redis_url=db.url)})


def job(jid: str, queue: str = "default") -> bytes:
    built = wire.build("HardJob", [1], {"queue": queue, "retry": True}, now=NOW, jid=jid)
    return wire.encode(built)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


# -- one line per mistake ----------------------------------------------------------------------


def test_a_module_typo_in_run_is_one_line_naming_the_module(
    tmp_path: Path, redis_db: RedisDB
) -> None:
    result = henchman("run", "-r", "app.jbos", cwd=tmp_path, env=fast_env(redis_db.url))
    assert result.returncode == 2
    assert "no module named 'app'" in one_error_line(result.stderr)


def test_a_module_that_fails_to_import_shows_only_the_users_frames(
    tmp_path: Path, redis_db: RedisDB
) -> None:
    (tmp_path / "brokenapp.py").write_text("import json\nimport not_installed_dependency\n")
    result = henchman("run", "-r", "brokenapp", cwd=tmp_path, env=fast_env(redis_db.url))
    assert result.returncode == 1
    assert result.stderr.startswith("error: importing 'brokenapp' failed:\nTraceback")
    assert 'brokenapp.py", line 2' in result.stderr
    assert "No module named 'not_installed_dependency'" in result.stderr
    assert "importlib" not in result.stderr
    assert "henchman/cli" not in result.stderr


def test_invalid_json_args_to_enqueue_is_one_line(tmp_path: Path, redis_db: RedisDB) -> None:
    result = henchman("enqueue", "NAME", "[42, 800", cwd=tmp_path, env=fast_env(redis_db.url))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "JSON_ARGS is not valid JSON" in line
    assert "henchman enqueue --help" in line
    assert redis_db.client.dbsize() == 0


@pytest.mark.parametrize(
    "args",
    [
        ("enqueue", "NAME", "[1]", "--no-such-option"),
        ("retry", "delete"),
        ("stats",),
        ("run", "-r", "proc_jobs", "-c", "0"),
        ("nonexistent-command",),
    ],
    ids=["unknown-option", "missing-jid", "unreachable-redis", "bad-setting", "unknown-command"],
)
def test_every_command_error_has_the_same_prefix(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = fast_env("redis://127.0.0.1:1/0")
    result = henchman(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    one_error_line(result.stderr)


def test_usage_errors_through_the_main_group_are_one_line() -> None:
    result = CliRunner().invoke(main, ["retry", "delete"])
    assert result.exit_code == 2
    assert result.output == "error: give either a JID or --all (see 'main retry delete --help')\n"


def test_a_job_no_worker_registered_is_logged_in_one_line_with_its_fields(
    tmp_path: Path, redis_db: RedisDB
) -> None:
    (tmp_path / "proc_jobs.py").write_text("import henchman\n")
    redis_db.client.lpush(keys.queue("default"), wire.encode(
        wire.build("billing.Invoice", [1], {"queue": "default", "retry": 0}, now=NOW, jid="a" * 24)
    ))  # fmt: skip
    log = tmp_path / "worker.log"
    worker = start_worker(tmp_path, fast_env(redis_db.url), log=log)
    try:
        wait_for(lambda: redis_db.client.zcard(keys.DEAD) == 1, what="the job in the dead set")
    finally:
        stop(worker)
    text = log.read_text()
    lines = [line for line in text.splitlines() if "billing.Invoice" in line]
    assert len(lines) == 1, text
    assert f"class=billing.Invoice jid={'a' * 24} WARNING:" in lines[0]
    assert "no job registered as 'billing.Invoice'" in lines[0]
    assert "Traceback" not in text


# -- plain English -------------------------------------------------------------------------------


def test_counts_in_messages_agree_with_their_nouns(redis_db: RedisDB) -> None:
    redis_db.client.zadd(keys.DEAD, {job("a" * 24): NOW})
    assert admin(redis_db, dead, "delete", "--all").stdout == "Deleted 1 job.\n"
    assert admin(redis_db, dead, "delete", "--all").stdout == "Deleted 0 jobs.\n"
    info = orjson.dumps({"hostname": "h", "pid": 1, "identity": "h:1:x", "queues": ["default"]})
    redis_db.client.sadd(keys.PROCESSES, "h:1:x")
    redis_db.client.hset("h:1:x", mapping={"info": info, "beat": repr(time.time())})
    assert admin(redis_db, quiet, "all").stdout == "Asked 1 process to quiet.\n"


# -- commands people look for --------------------------------------------------------------------


def test_scheduled_list_enqueue_and_delete(redis_db: RedisDB) -> None:
    redis_db.client.zadd(keys.SCHEDULE, {job("a" * 24): NOW + 3600, job("b" * 24): NOW + 60})
    listing = admin(redis_db, scheduled, "list")
    assert listing.exit_code == 0
    assert listing.stdout.index("a" * 24) < listing.stdout.index("b" * 24)  # newest first
    assert admin(redis_db, scheduled, "enqueue", "b" * 24).stdout == f"Enqueued {'b' * 24}.\n"
    queued = orjson.loads(redis_db.client.lindex(keys.queue("default"), 0) or b"{}")
    assert queued["jid"] == "b" * 24
    assert "retry_count" not in queued  # pushed unchanged, not as a manual retry
    assert admin(redis_db, scheduled, "delete", "a" * 24).stdout == f"Deleted {'a' * 24}.\n"
    assert redis_db.client.zcard(keys.SCHEDULE) == 0
    missing = admin(redis_db, scheduled, "delete", "c" * 24)
    assert missing.exit_code == 1


def test_queues_clear_needs_confirmation_without_a_terminal(redis_db: RedisDB) -> None:
    redis_db.client.sadd(keys.QUEUES, "mailers")
    redis_db.client.lpush(keys.queue("mailers"), job("a" * 24, "mailers"), job("b" * 24, "mailers"))
    refused = admin(redis_db, queues, "clear", "mailers")
    assert refused.exit_code == 2
    assert redis_db.client.llen(keys.queue("mailers")) == 2
    cleared = admin(redis_db, queues, "clear", "mailers", "--yes")
    assert cleared.stdout == "Deleted 2 jobs from queue mailers.\n"
    assert redis_db.client.exists(keys.queue("mailers")) == 0
    assert not redis_db.client.sismember(keys.QUEUES, "mailers")
    assert admin(redis_db, queues, "clear", "nope", "--yes").exit_code == 1


def test_bare_queues_still_lists(redis_db: RedisDB) -> None:
    redis_db.client.sadd(keys.QUEUES, "mailers")
    assert admin(redis_db, queues).stdout.startswith("QUEUE")


def test_bulk_actions_show_progress(redis_db: RedisDB) -> None:
    redis_db.client.zadd(keys.RETRY, {job(f"{i:024x}"): NOW + i for i in range(250)})
    killed = admin(redis_db, retry, "kill", "--all")
    assert killed.exit_code == 0, killed.output
    assert "Killing" in killed.stderr
    assert killed.stdout == "Killed 250 jobs.\n"
    assert redis_db.client.zcard(keys.DEAD) == 250
    retried = admin(redis_db, dead, "retry", "--all")
    assert "Retrying" in retried.stderr
    assert retried.stdout == "Retried 250 jobs.\n"


# -- the embedded server is never started silently --------------------------------------------


def test_an_admin_command_says_when_it_starts_a_new_embedded_server(tmp_path: Path) -> None:
    env = fast_env("", HENCHMAN_HOME=str(tmp_path / "state"))
    del env["HENCHMAN_REDIS_URL"]
    refused = henchman("--no-start", "queues", cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "no embedded server runs in ./state (--no-start)" in one_error_line(refused.stderr)
    assert not (tmp_path / "state" / "appendonlydir").exists()
    try:
        started = henchman("queues", cwd=tmp_path, env=env)
        assert started.returncode == 0
        note = "note: started a new embedded server in ./state: no jobs here yet\n"
        assert started.stderr == note
        assert started.stdout == "No queues.\n"
        again = henchman("queues", cwd=tmp_path, env=env)
        assert again.stderr == ""
    finally:
        henchman("server", "stop", cwd=tmp_path, env=env)


# -- stopping ----------------------------------------------------------------------------------


def test_an_idle_worker_stops_without_waiting_out_a_long_fetch_timeout(
    tmp_path: Path, redis_db: RedisDB
) -> None:
    # With a 60 s fetch timeout a stop that waited for the blocking fetch would outlast the
    # helper's 30 s wait and fail; how fast a stop is belongs to bench/idle_stop.py.
    (tmp_path / "proc_jobs.py").write_text("import henchman\n")
    env = fast_env(redis_db.url, HENCHMAN_FETCH_TIMEOUT="60")
    log = tmp_path / "worker.log"
    worker = start_worker(tmp_path, env, log=log)
    wait_for(lambda: "started" in log.read_text(), what="the worker to start")
    assert stop(worker, timeout=30) == 0, log.read_text()
    assert log.read_text().rstrip().endswith("stopped")


def test_a_blocking_fetch_never_waits_longer_than_half_a_second() -> None:
    from henchman.config import Settings
    from henchman.server.fetch import block_time

    assert Settings().fetch_timeout == 0.25
    assert block_time(60.0, 1) == 0.5
    assert block_time(60.0, 3) == 0.25
    assert block_time(Settings().fetch_timeout, 1) == 0.25
