"""Queue pausing: workers leave a paused queue alone, its jobs keep their order, nothing spins."""

from __future__ import annotations

import asyncio
import time

from click.testing import CliRunner

from henchman import keys
from henchman.api import Queue
from henchman.app import Henchman
from henchman.cli.admin_cmds import queues as queues_cmd
from henchman.config import QueueSpec, Settings
from henchman.redis.scripts import Scripts
from henchman.server.fetch import ReliableFetcher, block_time
from henchman.server.launcher import Launcher
from henchman.server.outage import OutageLog
from henchman.server.queue_list import PAUSE_BLOCK, PAUSE_REFRESH, PausedQueues, QueueList
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, queues, running_worker, wait_for


def test_a_paused_queue_runs_nothing_and_after_unpause_runs_everything_in_order(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    @app.job(name="flow.paused_order", queue="x")
    def work(n: int) -> None:
        seen.add(n)

    Queue(redis_db.client, "x").pause()
    work.perform_bulk([[n] for n in range(1000)])
    with running_worker(app, redis_db.settings(queues=queues("x"), concurrency=1)) as launcher:
        wait_for(lambda: "x" in launcher.paused.names, what="the worker to read the paused set")
        time.sleep(3)
        assert len(seen) == 0
        assert redis_db.client.llen(keys.queue("x")) == 1000
        Queue(redis_db.client, "x").unpause()
        wait_for(lambda: len(seen) == 1000, what="all 1,000 jobs to run", timeout=60)
    assert seen.items == list(range(1000))


def rounds_begun_before_the_pause_ended(launcher: Launcher) -> None:
    """Wait until no fetch round that read its queue list before the pause is still in flight: a
    round runs under its fetcher's fetch lock, so taking the lock once waits for it to end (a
    sleep of one block time would not, on a machine too loaded to run the round in time)."""
    for capsule in launcher.capsules:
        assert capsule.fetcher.wait_for_fetch(30), "a fetch round did not end within 30 s"
        capsule.fetcher._fetch_lock.release()


def test_pausing_a_queue_while_the_worker_runs_stops_its_fetching(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    @app.job(name="flow.paused_live", queue="x")
    def work(n: int) -> None:
        seen.add(n)

    with running_worker(app, redis_db.settings(queues=queues("x", "y"))) as launcher:
        work.perform_async(0)
        wait_for(lambda: len(seen) == 1, what="the first job to run")
        Queue(redis_db.client, "x").pause()
        wait_for(lambda: "x" in launcher.paused.names, what="the worker to see the pause")
        rounds_begun_before_the_pause_ended(launcher)
        for n in range(1, 21):
            work.perform_async(n)
        time.sleep(1.0)
        assert len(seen) == 1
        assert redis_db.client.llen(keys.queue("x")) == 20


def test_an_async_worker_leaves_a_paused_queue_alone(app: Henchman, redis_db: RedisDB) -> None:
    seen = Recorder()

    @app.job(name="flow.paused_async", queue="x")
    async def work(n: int) -> None:
        await asyncio.sleep(0)
        seen.add(n)

    Queue(redis_db.client, "x").pause()
    for n in range(5):
        work.perform_async(n)
    settings = redis_db.settings(queues=queues("x"), async_concurrency=4)
    with running_worker(app, settings) as launcher:
        wait_for(lambda: "x" in launcher.paused.names, what="the worker to read the paused set")
        time.sleep(1.0)
        assert len(seen) == 0
        Queue(redis_db.client, "x").unpause()
        wait_for(lambda: len(seen) == 5, what="the async jobs to run after unpause")


def test_other_queues_of_the_capsule_keep_running_while_one_is_paused(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen = Recorder()

    @app.job(name="flow.paused_other")
    def work(n: int) -> None:
        seen.add(n)

    Queue(redis_db.client, "x").pause()
    work.set(queue="x").perform_async(1)
    work.set(queue="y").perform_async(2)
    with running_worker(app, redis_db.settings(queues=queues("x", "y"))):
        wait_for(lambda: len(seen) == 1, what="the job of the unpaused queue to run")
        time.sleep(0.5)
    assert seen.items == [2]
    assert redis_db.client.llen(keys.queue("x")) == 1


def test_a_fetcher_whose_every_queue_is_paused_waits_instead_of_spinning(
    redis_db: RedisDB,
) -> None:
    paused = PausedQueues(frozenset({"x"}))
    client = redis_db.client
    client.lpush(keys.queue("x"), b'{"class":"a","args":[],"jid":"1"}')
    fetcher = ReliableFetcher(
        client,
        Scripts(client),
        "flow:1:test",
        QueueList([QueueSpec("x")], paused),
        block_timeout=0.5,
        outages=OutageLog(),
    )
    rounds = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert fetcher.take() is None
        rounds += 1
    assert rounds <= 6  # one look every quarter second, not thousands
    assert client.llen(keys.queue("x")) == 1


def test_a_pause_is_honoured_within_a_second_by_construction() -> None:
    assert PAUSE_REFRESH + PAUSE_BLOCK <= 1.0
    assert block_time(25.0, 1) == PAUSE_BLOCK
    assert block_time(0.1, 1) == 0.1


def test_the_queue_list_leaves_out_paused_queues_in_configured_order() -> None:
    paused = PausedQueues()
    listed = QueueList([QueueSpec("a"), QueueSpec("b"), QueueSpec("c")], paused)
    paused.update(frozenset({"b"}))
    assert [q.name for q in listed.active()] == ["a", "c"]
    paused.update(frozenset())
    assert [q.name for q in listed.active()] == ["a", "b", "c"]
    assert [q.name for q in listed] == ["a", "b", "c"]


def test_cli_pause_and_unpause_write_the_paused_set(redis_db: RedisDB) -> None:
    runner = CliRunner()
    obj = {"settings": Settings(redis_url=redis_db.url)}
    result = runner.invoke(queues_cmd, ["pause", "mailers"], obj=obj)
    assert result.exit_code == 0, result.output
    assert redis_db.client.smembers(keys.PAUSED) == {b"mailers"}
    listed = runner.invoke(queues_cmd, ["--json"], obj=obj)
    assert listed.exit_code == 0, listed.output
    result = runner.invoke(queues_cmd, ["unpause", "mailers"], obj=obj)
    assert result.exit_code == 0, result.output
    assert redis_db.client.smembers(keys.PAUSED) == set()


def test_cli_pause_refuses_a_blank_queue_name(redis_db: RedisDB) -> None:
    runner = CliRunner()
    result = runner.invoke(
        queues_cmd, ["pause", " "], obj={"settings": Settings(redis_url=redis_db.url)}
    )
    assert result.exit_code == 2
    assert "invalid queue name" in result.output
    assert redis_db.client.smembers(keys.PAUSED) == set()
