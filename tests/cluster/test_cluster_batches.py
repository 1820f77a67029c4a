"""Batches in cluster mode against a real 3-master cluster: a batch's jobs on queues in different
slots, its callbacks fired once, failures, deaths and child batches counted, a ``jobs()`` block
that raises adding nothing, and the outbox sweeper completing a delivery a crash interrupted.
No step may raise CROSSSLOT (every node's ``INFO errorstats`` is read before and after)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.cluster import RedisCluster

import henchman
from henchman import keys
from henchman.api import BatchSet, BatchStatus
from henchman.app import Henchman
from henchman.batches import outbox, staging
from henchman.batches.finisher import ClusterSteps
from henchman.batches.outbox import OutboxSweeper
from tests.cluster._helpers import crossslot_errors, spread_queues
from tests.conftest import ClusterDB
from tests.integration._core_helpers import queues, running_worker, wait_for

L = keys.CLUSTER


@pytest.fixture
def capp(cluster: ClusterDB) -> Iterator[Henchman]:
    app = Henchman(cluster.settings())
    yield app
    app.close()


@pytest.fixture
def no_crossslot(cluster: ClusterDB) -> Iterator[None]:
    nodes = cluster.topology.master_nodes()
    before = sum(crossslot_errors(node) for node in nodes)
    yield
    assert sum(crossslot_errors(node) for node in nodes) == before


class Calls:
    """What the callbacks and jobs of a test saw (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, Any]] = []

    def add(self, kind: str, value: Any) -> None:
        with self.lock:
            self.seen.append((kind, value))

    def of(self, kind: str) -> list[Any]:
        with self.lock:
            return [value for k, value in self.seen if k == kind]


@pytest.fixture
def calls() -> Calls:
    return Calls()


def _register(capp: Henchman, calls: Calls) -> dict[str, Any]:
    @capp.job
    def work(n: int) -> None:
        calls.add("work", n)

    @capp.job
    async def awork(n: int) -> None:
        await asyncio.sleep(0)
        calls.add("work", n)

    @capp.job(retry=5)
    def flaky(n: int) -> None:
        calls.add("flaky", n)
        raise RuntimeError("flaky")

    @capp.job(retry=0)
    def doomed(n: int) -> None:
        calls.add("doomed", n)
        raise RuntimeError("doomed")

    @capp.job
    def callback(status: dict[str, Any], options: dict[str, Any]) -> None:
        calls.add(status["event"], (status, options))

    return {"work": work, "awork": awork, "flaky": flaky, "doomed": doomed, "callback": callback}


@pytest.mark.usefixtures("no_crossslot")
def test_success_and_complete_fire_once_for_jobs_on_queues_in_different_slots(
    capp: Henchman, cluster: ClusterDB, calls: Calls
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(3)
    batch = henchman.Batch(description="spread", app=capp, callback_queue=names[0])
    batch.on("complete", jobs["callback"], {"n": 1}).on("success", jobs["callback"], {"n": 2})
    with batch.jobs():
        for n in range(6):  # sync and async workers
            jobs["work" if n % 2 else "awork"].set(queue=names[n % 3]).perform_async(n)
    assert BatchStatus(batch.bid, app=capp).total == 6
    with running_worker(capp, cluster.settings(queues=queues(*names), concurrency=3)):
        wait_for(lambda: calls.of("success"), what="the success callback")
        wait_for(lambda: calls.of("complete"), what="the complete callback")
        status = BatchStatus(batch.bid, app=capp)
        assert status.success
        assert status.pending == 0
    assert sorted(calls.of("work")) == list(range(6))
    assert len(calls.of("complete")) == 1
    assert len(calls.of("success")) == 1
    (done, options) = calls.of("success")[0]
    assert done["bid"] == batch.bid
    assert done["total"] == 6
    assert options == {"n": 2}
    assert [s.bid for s in BatchSet(app=capp)] == [batch.bid]


@pytest.mark.usefixtures("no_crossslot")
def test_a_failing_jobs_retry_and_a_jobs_death_are_counted_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, calls: Calls
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)
    batch = henchman.Batch(app=capp, callback_queue=names[1])
    batch.on("complete", jobs["callback"]).on("death", jobs["callback"])
    batch.on("success", jobs["callback"])
    with batch.jobs():
        jobs["flaky"].set(queue=names[0]).perform_async(1)
        jobs["doomed"].set(queue=names[1]).perform_async(2)
        jobs["work"].set(queue=names[1]).perform_async(3)
    with running_worker(capp, cluster.settings(queues=queues(*names))):
        wait_for(lambda: calls.of("complete"), what="the complete callback")
        wait_for(lambda: calls.of("death"), what="the death callback")
    status = BatchStatus(batch.bid, app=capp)
    assert status.failures == 2
    assert status.pending == 2
    assert len(status.dead_jids) == 1
    assert status.dead
    assert not status.success
    assert calls.of("success") == []
    assert len(calls.of("complete")) == 1
    assert len(calls.of("death")) == 1


@pytest.mark.usefixtures("no_crossslot")
def test_a_child_batch_opened_in_a_job_shares_its_roots_slot_and_finishes_first(
    capp: Henchman, cluster: ClusterDB, calls: Calls, rc: RedisCluster
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)

    @capp.job
    def spawn(n: int) -> None:
        child = henchman.Batch(app=capp, callback_queue=names[0]).on(
            "success", jobs["callback"], {"level": 2}
        )
        made = child.bid
        with child.jobs():
            jobs["work"].set(queue=names[1]).perform_async(n)
        calls.add("child", (made, child.bid))

    top = henchman.Batch(app=capp, callback_queue=names[1]).on(
        "success", jobs["callback"], {"level": 1}
    )
    with top.jobs():
        spawn.set(queue=names[0]).perform_async(7)
    with running_worker(capp, cluster.settings(queues=queues(*names))):
        wait_for(lambda: len(calls.of("success")) == 2, what="both success callbacks")
    ((made, child_bid),) = calls.of("child")
    assert made == child_bid  # fixed when made inside its parent's job
    assert child_bid.startswith(top.bid + ".")
    assert rc.keyslot(L.batch(child_bid)) == rc.keyslot(L.batch(top.bid))
    levels = [options["level"] for _, options in calls.of("success")]
    assert levels == [2, 1]
    status = BatchStatus(top.bid, app=capp)
    assert status.child_bids == [child_bid]
    assert status.success


@pytest.mark.usefixtures("no_crossslot")
def test_a_jobs_block_that_raises_adds_nothing_in_cluster_mode(
    capp: Henchman, calls: Calls, cluster: ClusterDB
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(3)
    batch = henchman.Batch(app=capp)

    def block() -> None:
        with batch.jobs():
            for n in range(3):
                jobs["work"].set(queue=names[n]).perform_async(n)
            jobs["work"].set(queue=names[0]).perform_in(60, 9)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        block()
    assert [n.client().dbsize() for n in cluster.topology.master_nodes()] == [0, 0, 0]


@pytest.mark.usefixtures("no_crossslot")
def test_a_blocks_jobs_are_delivered_by_the_sweeper_after_a_crash_mid_delivery(
    capp: Henchman, calls: Calls, rc: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)

    def crash(*_: Any) -> int:
        raise ConnectionError("the pusher died")

    monkeypatch.setattr(staging.outbox, "deliver", crash)
    batch = henchman.Batch(app=capp)

    def block() -> None:
        with batch.jobs():
            jobs["work"].set(queue=names[0]).perform_async(1)
            jobs["work"].set(queue=names[1]).perform_async(2)
            jobs["work"].set(queue=names[1]).perform_in(60, 3)

    with pytest.raises(ConnectionError):
        block()
    monkeypatch.undo()
    assert BatchStatus(batch.bid, app=capp).pending == 3  # committed as a whole
    assert rc.llen(L.queue(names[0])) == rc.llen(L.queue(names[1])) == 0
    assert OutboxSweeper(rc, L).sweep() == 3
    assert rc.llen(L.queue(names[0])) == 1
    assert rc.llen(L.queue(names[1])) == 1
    assert rc.zcard(L.schedule(names[1])) == 1
    assert {m.decode() for m in rc.smembers(L.QUEUES)} == set(names)
    assert OutboxSweeper(rc, L).sweep() == 0  # delivered once


@pytest.mark.usefixtures("no_crossslot")
def test_a_callback_counted_before_a_crash_is_delivered_by_the_sweeper(
    capp: Henchman, calls: Calls, rc: RedisCluster
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)
    batch = henchman.Batch(app=capp, callback_queue=names[1]).on("success", jobs["callback"])
    with batch.jobs():
        jobs["work"].set(queue=names[0]).perform_async(1)
    raw = rc.rpop(L.queue(names[0]))
    jid = henchman.payload.decode(raw)["jid"]
    finisher = capp.finishers[0]
    args = finisher._count_args("success", jid, batch.bid)  # type: ignore[attr-defined]

    def crash() -> Any:
        raise ConnectionError("the worker died before its acknowledgement")

    with pytest.raises(ConnectionError):
        ClusterSteps(L, args).send(rc, crash)
    assert BatchStatus(batch.bid, app=capp).success  # step 1 done
    assert rc.llen(L.queue(names[1])) == 0
    # The job runs again after recovery: counted once, nothing fires twice.
    ClusterSteps(L, args).send(rc, lambda: 1)
    assert rc.llen(L.queue(names[1])) == 1
    assert OutboxSweeper(rc, L).sweep() == 0


@pytest.mark.usefixtures("no_crossslot")
def test_the_sweeper_puts_back_entries_a_crashed_deliverer_left_in_flight(
    capp: Henchman, calls: Calls, rc: RedisCluster
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(1)
    batch = henchman.Batch(app=capp)
    with batch.jobs():
        jobs["work"].set(queue=names[0]).perform_async(1)
    entry = rc.rpop(L.queue(names[0]))
    inflight = L.batch_inflight(batch.bid)
    assert inflight is not None
    rc.lpush(inflight, outbox.orjson.dumps([names[0], entry.decode()]))  # taken, never pushed
    sweeper = OutboxSweeper(rc, L)
    assert sweeper.sweep() == 0  # maybe still being delivered: left alone once
    assert sweeper.sweep() == 1
    assert rc.llen(inflight) == 0
    assert rc.lrange(L.queue(names[0]), 0, -1) == [entry]


@pytest.mark.usefixtures("no_crossslot")
def test_an_async_jobs_block_commits_and_delivers_in_cluster_mode(
    capp: Henchman, calls: Calls, rc: RedisCluster
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)
    batch = henchman.Batch(app=capp)

    async def block() -> None:
        try:
            async with batch.ajobs():
                await jobs["work"].set(queue=names[0]).aperform_async(1)
                await jobs["work"].set(queue=names[1]).aperform_async(2)
        finally:
            await capp.aclient.redis.aclose()

    asyncio.run(block())
    assert BatchStatus(batch.bid, app=capp).total == 2
    assert rc.llen(L.queue(names[0])) == rc.llen(L.queue(names[1])) == 1


@pytest.mark.usefixtures("no_crossslot")
def test_a_chain_with_a_group_runs_its_steps_in_order_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, calls: Calls
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(3)
    work = [jobs["work"].set(queue=name) for name in names]
    flow = henchman.chain(work[0].s(1), henchman.group(work[1].s(2), work[2].s(3)), work[0].s(4))
    root = flow.on("success", jobs["callback"].set(queue=names[1])).perform_async()
    with running_worker(capp, cluster.settings(queues=queues(*names), concurrency=2)):
        wait_for(lambda: calls.of("success"), what="the workflow's success callback")
    done = calls.of("work")
    assert done[0] == 1
    assert sorted(done[1:3]) == [2, 3]
    assert done[3] == 4
    assert len(calls.of("success")) == 1
    assert BatchStatus(root.bid, app=capp).success


def test_the_sweeper_drops_a_succeeded_family_from_the_registry_after_its_grace(
    capp: Henchman, calls: Calls, rc: RedisCluster
) -> None:
    jobs = _register(capp, calls)
    batch = henchman.Batch(app=capp)
    with batch.jobs():
        jobs["work"].set(queue="q0").perform_async(1)
    later = OutboxSweeper(rc, L, clock=lambda: time.time() + outbox.GRACE + 60)
    later.sweep()
    assert rc.zcard(L.BATCH_FAMILIES) == 1  # still pending: kept
    rc.hset(L.batch(batch.bid), "success_at", time.time())
    OutboxSweeper(rc, L).sweep()
    assert rc.zcard(L.BATCH_FAMILIES) == 1  # succeeded, but committed within the grace
    later.sweep()
    assert rc.zcard(L.BATCH_FAMILIES) == 0


@pytest.mark.usefixtures("no_crossslot")
def test_a_job_adds_jobs_to_its_own_batch_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, calls: Calls
) -> None:
    jobs = _register(capp, calls)
    names = spread_queues(2)

    @capp.job
    def grow(n: int) -> None:
        reopened = henchman.current_batch()
        assert reopened is not None
        with reopened.jobs():
            jobs["work"].set(queue=names[1]).perform_async(n + 1)

    batch = henchman.Batch(app=capp, callback_queue=names[0]).on("success", jobs["callback"])
    with batch.jobs():
        grow.set(queue=names[0]).perform_async(1)
    with running_worker(capp, cluster.settings(queues=queues(*names))):
        wait_for(lambda: calls.of("success"), what="the success callback")
    assert calls.of("work") == [2]
    status = BatchStatus(batch.bid, app=capp)
    assert status.total == 2
    assert status.child_bids == []
