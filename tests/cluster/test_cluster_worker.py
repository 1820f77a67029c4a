"""A real worker in cluster mode (``redis+cluster://``) against a 3-master cluster: jobs pushed to
queues on every shard run, fail into their queue's retry set, come back through the poller, die
into their queue's dead set, and the admin API sees it all as one view. Also the refusals of the
features that have no cluster design yet, and results, which work unchanged."""

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
from henchman.api import DeadSet, JobResult, RetrySet, Stats
from henchman.app import Henchman
from henchman.errors import ConfigError
from henchman.server.launcher import Launcher
from tests.cluster._helpers import spread_queues
from tests.conftest import ClusterDB
from tests.integration._core_helpers import queues, running_worker, wait_for

L = keys.CLUSTER


@pytest.fixture
def capp(cluster: ClusterDB) -> Iterator[Henchman]:
    app = Henchman(cluster.settings())
    yield app
    app.close()


def test_app_in_cluster_mode_uses_the_cluster_layout(capp: Henchman) -> None:
    assert capp.keys is keys.CLUSTER
    assert Henchman(capp.settings.replace(redis_url=None, cluster=False)).keys is keys.SIDEKIQ


def test_a_worker_runs_jobs_of_queues_on_every_shard(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    names = spread_queues(3)
    done: list[tuple[str, int]] = []
    lock = threading.Lock()

    @capp.job
    def work(queue: str, n: int) -> None:
        with lock:
            done.append((queue, n))

    @capp.job
    async def awork(queue: str, n: int) -> None:
        await asyncio.sleep(0)
        with lock:
            done.append((queue, n))

    settings = cluster.settings(queues=queues(*names), concurrency=3)
    for name in names:
        for n in range(4):
            (work if n % 2 else awork).set(queue=name).perform_async(name, n)
    with running_worker(capp, settings) as launcher:
        wait_for(lambda: len(done) == 12, what="every job to run")
        wait_for(
            lambda: all(rc.llen(L.working(launcher.identity, q)) == 0 for q in names),
            what="acknowledgements",
        )
        assert Stats(rc).summary().enqueued == 0
    assert sorted(done) == sorted((q, n) for q in names for n in range(4))
    assert Stats(rc).processed == 12


def test_the_asyncio_client_pushes_in_the_cluster_layout(capp: Henchman, rc: RedisCluster) -> None:
    @capp.job(queue="aq")
    def work(n: int) -> None:
        pass

    @capp.job(queue="aq", unique_for=60)
    def once(n: int) -> None:
        pass

    async def push() -> list[str | None]:
        try:
            return [
                await work.aperform_async(1),
                await work.aperform_in(60, 2),
                await once.aperform_async(3),
                await once.aperform_async(3),
                *list(await work.aperform_bulk([[4], [5]])),
            ]
        finally:
            await capp.aclient.redis.aclose()

    jids = asyncio.run(push())
    assert jids[3] is None  # the unique duplicate
    assert rc.llen(L.queue("aq")) == 4
    assert rc.zcard(L.schedule("aq")) == 1
    assert rc.sismember(L.QUEUES, "aq")


def test_a_failing_job_retries_from_its_queue_set_then_dies_there(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    name = spread_queues(2)[1]
    attempts: list[int] = []

    @capp.job(retry=1, queue=name)
    def flaky() -> None:
        attempts.append(1)
        raise RuntimeError("boom")

    flaky.retry_in(lambda count, exc, job: 0.1)
    settings = cluster.settings(queues=queues(name))
    flaky.perform_async()
    with running_worker(capp, settings):
        wait_for(lambda: DeadSet(rc).size == 1, what="the job to die after its retry")
    assert len(attempts) == 2
    assert rc.zcard(L.dead(name)) == 1
    assert RetrySet(rc).size == 0
    (record,) = list(DeadSet(rc))
    assert record.error_message == "boom"


def test_a_scheduled_job_runs_when_due(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    ran = threading.Event()

    @capp.job(queue="later")
    def later() -> None:
        ran.set()

    later.perform_in(0.5)
    assert rc.zcard(L.schedule("later")) == 1
    with running_worker(capp, cluster.settings(queues=queues("later"))):
        assert ran.wait(30)


def test_results_are_stored_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    @capp.job(result_ttl=60)
    def answer() -> int:
        return 42

    jid = answer.perform_async()
    with running_worker(capp, cluster.settings()):
        result = JobResult(jid, app=capp)
        wait_for(lambda: result.refresh().finished, what="the result")
    assert result.value == 42


def _refused_start(app: Henchman, cluster: ClusterDB, message: str) -> None:
    launcher = Launcher(app, cluster.settings())
    try:
        with pytest.raises(ConfigError, match=message):
            launcher.start()
    finally:
        if launcher.capsules:
            launcher.stop()


def test_an_iterable_job_checkpoints_on_quiet_and_resumes_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    from henchman.api import IterationState
    from henchman.iteration import enumerators

    items = 200

    class Numbers(henchman.IterableJob, app=capp):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, items, cursor)

        def each_iteration(self, number: int) -> None:
            time.sleep(0.002)
            self.progress.done(number)
            rc.rpush("{test}:items", number)

    jid = Numbers.perform_async()
    settings = cluster.settings()
    with running_worker(capp, settings) as launcher:
        wait_for(lambda: rc.llen("{test}:items") >= 20, what="some iterations")
        launcher.quiet()
        wait_for(lambda: rc.llen(L.queue("default")) == 1, what="the job back at the head")
    record = IterationState(rc).find(jid)
    assert record is not None
    assert record.executions == 1
    assert jid in set(IterationState(rc).jids())
    with running_worker(capp, settings):
        wait_for(lambda: rc.llen("{test}:items") == items, what="every item")
        wait_for(lambda: not rc.exists(L.iteration_state(jid)), what="the state cleaned up")
    counts = sorted(int(n) for n in rc.lrange("{test}:items", 0, -1))
    assert counts == list(range(items))
    assert not rc.exists(L.iteration_done_ids(jid))


def test_a_unique_job_is_pushed_once_and_its_lock_released_after_it_ran(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    ran = threading.Event()

    @capp.job(unique_for=60, queue="uq")
    def once(n: int) -> None:
        ran.set()

    assert once.perform_async(1) is not None
    assert once.perform_async(1) is None  # the duplicate is refused
    assert rc.llen(L.queue("uq")) == 1
    assert rc.sismember(L.QUEUES, "uq")
    with running_worker(capp, cluster.settings(queues=queues("uq"))):
        assert ran.wait(30)
        wait_for(lambda: once.perform_async(1) is not None, what="the lock released")


def test_a_scheduled_unique_job_registers_its_queue_for_the_poller(
    capp: Henchman, rc: RedisCluster
) -> None:
    @capp.job(unique_for=60, queue="later-unique")
    def later(n: int) -> None:
        pass

    assert later.perform_in(60, 1) is not None
    assert later.perform_in(60, 1) is None
    assert rc.zcard(L.schedule("later-unique")) == 1
    assert rc.sismember(L.QUEUES, "later-unique")


def test_buffered_unique_pushes_are_written_in_order_with_their_scripts(
    capp: Henchman, rc: RedisCluster
) -> None:
    from henchman.client.plan import plan_push

    def plan(n: int) -> Any:
        return plan_push(
            "Once", [n], {"queue": "uq", "unique_for": 60}, [], now=time.time(),
            hooks=capp.push_hooks,
        )  # fmt: skip

    plans = [plan(1), plan(1), plan(2)]
    capp.client.write_now(plans)  # what the reliable-push buffer does with a backlog
    assert rc.llen(L.queue("uq")) == 2
    assert rc.sismember(L.QUEUES, "uq")


def test_a_periodic_tick_is_enqueued_once_in_its_queue_slot(rc: RedisCluster) -> None:
    from henchman.periodic.enqueuer import TickEnqueuer
    from henchman.periodic_schedule import make_schedule

    schedule = make_schedule("*/2 * * * * *", "app.report", [1], name="tick", queue="reports")
    enqueuer = TickEnqueuer(rc, "me", [], layout=L)
    t0 = 1_800_000_000.0
    assert enqueuer.enqueue(schedule, t0, t0) == "enqueued"
    assert enqueuer.enqueue(schedule, t0, t0) == "duplicate"
    assert enqueuer.enqueue(schedule, t0 - 2, t0) == "duplicate"
    assert rc.llen(L.queue("reports")) == 1
    assert rc.sismember(L.QUEUES, "reports")
    assert enqueuer.marks([schedule]) == [t0]


def test_a_worker_leads_and_runs_periodic_ticks_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    from henchman.api import PeriodicSet, ProcessSet

    runs: list[float] = []

    @capp.job(queue="ticks")
    def tick() -> None:
        runs.append(time.time())

    capp.periodic("* * * * * *", tick, name="every-second")
    with running_worker(capp, cluster.settings(queues=queues("ticks"))) as launcher:
        wait_for(lambda: len(runs) >= 2, what="two ticks")
        assert ProcessSet(rc).leader == launcher.identity
        (record,) = PeriodicSet(rc).all()
        assert record.mark is not None
        assert record.history
        assert PeriodicSet(rc).pause("every-second")
        assert PeriodicSet(rc).all()[0].paused


def test_a_queue_name_with_braces_is_refused_in_cluster_mode(
    capp: Henchman, cluster: ClusterDB
) -> None:
    launcher = Launcher(capp, cluster.settings(queues=queues("a{b}")))
    try:
        with pytest.raises(ConfigError, match="braces would change its hash tag"):
            launcher.start()
    finally:
        if launcher.capsules:
            launcher.stop()
    with pytest.raises(ValueError, match="cannot be used in cluster mode"):
        capp.enqueue("Work", queue="x}")


def test_a_concurrent_limiter_admits_up_to_its_size_in_cluster_mode(
    capp: Henchman, rc: RedisCluster
) -> None:
    from henchman.api import LimiterSet
    from henchman.errors import OverLimit

    limiter = henchman.limits.concurrent("api", 1, app=capp)
    first = limiter.acquire()
    with pytest.raises(OverLimit):
        limiter.acquire(wait_timeout=0)
    assert LimiterSet(rc).usage("api") == 1
    limiter.release(first)
    limiter.release(limiter.acquire(wait_timeout=0))
    assert LimiterSet(rc).names() == ["api"]
    assert rc.exists(L.limiter("api"))
    LimiterSet(rc).delete("api")
    assert LimiterSet(rc).names() == []


def test_a_bucket_limiter_counts_admissions_in_cluster_mode(capp: Henchman) -> None:
    from henchman.errors import OverLimit

    limiter = henchman.limits.bucket("calls", 2, "minute", app=capp)
    limiter.acquire(wait_timeout=0)
    limiter.acquire(wait_timeout=0)
    with pytest.raises(OverLimit):
        limiter.acquire(wait_timeout=0)


def test_the_default_layout_is_sidekiqs_byte_for_byte() -> None:
    s = keys.SIDEKIQ
    assert (s.QUEUES, s.queue("a"), s.schedule("a"), s.retry("a"), s.dead("a")) == (
        "queues",
        "queue:a",
        "schedule",
        "retry",
        "dead",
    )
    assert (s.PROCESSES, s.process("h:1:x"), s.STAT_PROCESSED, s.working("h:1:x", "a")) == (
        "processes",
        "h:1:x",
        "stat:processed",
        "henchman:working:h:1:x:a",
    )
    _ = time


def test_jobs_of_queues_on_every_master_run_once_and_none_is_left_behind_after_a_stop(
    capp: Henchman, cluster: ClusterDB, rc: RedisCluster
) -> None:
    """A round writes to its first queue's master only; finished jobs of queues on the other
    masters wait for a round that goes there. Whatever path sends them (such a round, a short
    round, the flush of a blocked fetch or of the stop), none may be requeued or lost."""
    names = spread_queues(3)
    done: list[int] = []
    lock = threading.Lock()

    @capp.job
    def step(n: int) -> None:
        with lock:
            done.append(n)

    for index, name in enumerate(names):
        step.set(queue=name).perform_bulk([[index * 100 + n] for n in range(30)])
    settings = cluster.settings(queues=queues(*names), concurrency=3, heartbeat_interval=30)
    with running_worker(capp, settings) as launcher:
        wait_for(lambda: len(done) == 90, what="every job to run")
        identity = launcher.identity
    assert sorted(done) == sorted(i * 100 + n for i in range(3) for n in range(30))
    for name in names:
        assert rc.llen(L.queue(name)) == 0
        assert rc.llen(L.working(identity, name)) == 0
