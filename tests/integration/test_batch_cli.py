"""``henchman batches [BID]`` against a real server."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner, Result

import henchman
from henchman.app import Henchman
from henchman.cli.batch_cmds import batches
from henchman.config import Settings
from tests.conftest import RedisDB


def run(redis_db: RedisDB, *args: str) -> Result:
    command: click.Command = batches
    return CliRunner().invoke(
        command, list(args), obj={"settings": Settings(redis_url=redis_db.url)}
    )


def make_batch(app: Henchman, description: str, jobs: int) -> str:
    @app.job(name=f"bench.{description}")
    def work(n: int) -> None: ...

    batch = henchman.Batch(description=description, app=app)
    with batch.jobs():
        for n in range(jobs):
            work.perform_async(n)
    return batch.bid


def test_batches_lists_newest_first(app: Henchman, redis_db: RedisDB) -> None:
    older = make_batch(app, "older", 2)
    newer = make_batch(app, "newer", 3)
    result = run(redis_db)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["BID", "CREATED", "DESCRIPTION", "DONE", "FAILURES", "STATE"]
    assert lines[1].split()[0] == newer
    assert lines[1].split()[-3:] == ["0/3", "0", "pending"]
    assert lines[2].split()[0] == older


def test_batches_shows_one_batch(app: Henchman, redis_db: RedisDB) -> None:
    bid = make_batch(app, "one", 4)
    result = run(redis_db, bid)
    assert result.exit_code == 0, result.output
    assert f"Batch:          {bid}" in result.output
    assert "Total:          4" in result.output
    assert "Pending:        4" in result.output
    data = json.loads(run(redis_db, bid, "--json").output)
    assert (data["bid"], data["total"], data["description"]) == (bid, 4, "one")


def test_unknown_batch_exits_1_with_one_line(redis_db: RedisDB) -> None:
    result = run(redis_db, "nosuchbatch123")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: batch nosuchbatch123 does not exist (unknown, or expired)"
    )


def test_no_batches(redis_db: RedisDB) -> None:
    assert run(redis_db).output.strip() == "no batches"
