"""Progress helpers and reading iterable jobs through the admin API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click
from click.testing import CliRunner, Result

import henchman
from henchman import keys
from henchman.api import IterationState
from henchman.app import Henchman
from henchman.cli.iteration_cmds import iteration
from henchman.config import Settings
from henchman.iteration import enumerators
from henchman.iteration.progress import ProcessedIds, RowLedger
from henchman.testing import IterationHarness
from tests.conftest import RedisDB

JID = "0123456789abcdef01234567"


def ledger(redis_db: RedisDB, jid: str = JID) -> RowLedger:
    return RowLedger(jid, lambda: redis_db.client)


def test_processed_ids_remember_across_calls(redis_db: RedisDB) -> None:
    done = ProcessedIds(JID, lambda: redis_db.client)
    done.done(1, "b")
    assert done.is_done(1)
    assert done.is_done("1")
    assert done.is_done("b")
    assert not done.is_done(2)
    assert done.count() == 2
    assert redis_db.client.ttl(keys.iteration_done_ids(JID)) > 0


def test_the_row_ledger_keeps_one_answer_per_row_and_ordered_messages(redis_db: RedisDB) -> None:
    rows = ledger(redis_db)
    rows.processed(0, 1, 2)
    rows.failed(5, "email is missing", "age must be a number")
    rows.failed(1, "duplicate")  # a row run again that now fails
    rows.processed(5)  # ... and one that now succeeds
    rows.failed(9, "z first", "a second")
    report = rows.report()
    assert report.processed == 3
    assert report.failed == {1: ["duplicate"], 9: ["z first", "a second"]}
    assert rows.processed_rows() == [0, 2, 5]
    assert rows.is_processed(2)
    assert not rows.is_processed(1)


def test_the_processed_set_goes_on_completion_and_the_ledger_stays_a_while(
    app: Henchman, redis_db: RedisDB
) -> None:
    class Import(henchman.IterableJob, app=app):
        keep_ledger_for = 3600

        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return enumerators.number_range(0, 6, cursor)

        def each_iteration(self, number: int) -> None:
            if self.progress.is_done(number):
                return
            if number % 3 == 2:
                self.ledger.failed(number, f"row {number} is bad")
            else:
                self.ledger.processed(number)
            self.progress.done(number)

    harness = IterationHarness(Import)
    harness.run(interrupt_after=4)
    record = IterationState(redis_db.client).find(harness.jid)
    assert record is not None
    assert (record.executions, record.cursor, record.done_ids) == (1, 4, 4)
    assert record.ledger.failed == {2: ["row 2 is bad"]}
    harness.run()
    assert not redis_db.client.exists(keys.iteration_done_ids(harness.jid))
    assert 3500 < redis_db.client.ttl(keys.iteration_rows(harness.jid)) <= 3600
    after = IterationState(redis_db.client).find(harness.jid)
    assert after is not None
    assert not after.has_state
    assert after.ledger.processed == 4
    assert after.ledger.failed == {2: ["row 2 is bad"], 5: ["row 5 is bad"]}


def test_keep_ledger_for_zero_deletes_the_ledger_on_completion(
    app: Henchman, redis_db: RedisDB
) -> None:
    class Import(henchman.IterableJob, app=app):
        keep_ledger_for = 0

        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return enumerators.number_range(0, 2, cursor)

        def each_iteration(self, number: int) -> None:
            self.ledger.processed(number)

    harness = IterationHarness(Import)
    harness.run()
    assert IterationState(redis_db.client).find(harness.jid) is None


def test_async_jobs_use_the_async_twins(app: Henchman, redis_db: RedisDB) -> None:
    class AsyncImport(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return enumerators.number_range(0, 4, cursor)

        async def each_iteration(self, number: int) -> None:
            if await self.progress.ais_done(number):
                return
            if number == 1:
                await self.ledger.afailed(number, "nope")
            else:
                await self.ledger.aprocessed(number)
            await self.progress.adone(number)
            assert await self.progress.acount() >= 1
            assert await self.ledger.ais_processed(number) == (number != 1)

        async def on_stop(self) -> None:
            self.report = await self.ledger.areport()

    harness = IterationHarness(AsyncImport)
    harness.run()
    assert ledger(redis_db, harness.jid).report().failed == {1: ["nope"]}


def cli(redis_db: RedisDB, *args: str) -> Result:
    command: click.Command = iteration
    return CliRunner().invoke(
        command, list(args), obj={"settings": Settings(redis_url=redis_db.url)}
    )


def seed(redis_db: RedisDB) -> None:
    redis_db.client.hset(keys.iteration_state(JID), mapping={"ex": 3, "c": '{"row":17}', "rt": 8.5})
    redis_db.client.expire(keys.iteration_state(JID), 100)
    ledger(redis_db).processed(0, 1)
    ledger(redis_db).failed(2, "email is missing", "age must be a number")


def test_the_api_reads_a_waiting_job_written_by_sidekiq(redis_db: RedisDB) -> None:
    seed(redis_db)
    state = IterationState(redis_db.client)
    record = state.find(JID)
    assert record is not None
    assert (record.executions, record.cursor, record.runtime) == (3, {"row": 17}, 8.5)
    assert 0 < (record.expires_in or 0) <= 100
    assert record.ledger.failed == {2: ["email is missing", "age must be a number"]}
    assert [r.jid for r in state.all()] == [JID]
    assert state.processed_rows(JID) == [0, 1]
    assert state.find("f" * 24) is None
    state.cancel(JID)
    found = state.find(JID)
    assert found is not None
    assert found.cancelled_at is not None


def test_cli_show_prints_progress_and_failed_rows(redis_db: RedisDB) -> None:
    seed(redis_db)
    result = cli(redis_db, "show", JID)
    assert result.exit_code == 0, result.output
    assert "Executions:     3" in result.output
    assert 'Cursor:         {"row": 17}' in result.output
    assert "Runtime:        8.50s" in result.output
    assert "email is missing | age must be a number" in result.output
    as_json = json.loads(cli(redis_db, "show", JID, "--json").output)
    assert as_json["ledger"] == {
        "processed": 2,
        "failed": {"2": ["email is missing", "age must be a number"]},
    }


def test_cli_list_and_cancel(redis_db: RedisDB) -> None:
    seed(redis_db)
    listed = cli(redis_db, "list")
    assert JID in listed.output
    assert "no" in listed.output
    assert cli(redis_db, "cancel", JID).exit_code == 0
    assert redis_db.client.hexists(keys.iteration_state(JID), "cancelled")
    assert json.loads(cli(redis_db, "list", "--json").output)[0]["cancelled_at"] is not None


def test_cli_show_of_an_unknown_job_exits_1(redis_db: RedisDB) -> None:
    result = cli(redis_db, "show", JID)
    assert result.exit_code == 1
    assert "no iteration state" in result.output
