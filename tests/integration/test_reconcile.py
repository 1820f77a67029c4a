"""A live worker gives back jobs it holds in Redis without knowing it.

A fetch whose reply was lost (Redis hung, the client timed out) can still run on the server and
move jobs into the worker's working list. The tests put a job there exactly as such a late fetch
would, and check the reconcile at the next heartbeat runs it, while jobs the worker does hold
(running, or finished with their acknowledgement pending) are never given back.
"""

from __future__ import annotations

import threading
import time

import orjson

from henchman import keys
from henchman.app import Henchman
from henchman.client.plan import plan_push
from henchman.config import QueueSpec
from henchman.redis.scripts import Scripts
from henchman.server.fetch import ReliableFetcher
from henchman.server.outage import OutageLog
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, queue_jobs, running_worker, wait_for


def late_fetch(redis_db: RedisDB, identity: str, name: str, *args: object) -> str:
    """Put a new job into ``identity``'s working list as a fetch with a lost reply would."""
    plan = plan_push(name, args, {"queue": "default", "retry": True}, [], now=time.time())
    assert plan is not None
    redis_db.client.lpush(keys.working(identity, "default"), plan.raw)
    return plan.jid


def test_a_job_a_lost_fetch_moved_into_a_live_workers_list_runs_within_a_heartbeat(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="reconcile.record")
    def record(n: int) -> None:
        ran.add(n)

    settings = redis_db.settings(concurrency=2, heartbeat_interval=0.3)
    with running_worker(app, settings) as worker:
        late_fetch(redis_db, worker.identity, "reconcile.record", 7)
        wait_for(lambda: ran.items == [7], what="the stranded job to run")
        wait_for(
            lambda: redis_db.client.llen(keys.working(worker.identity, "default")) == 0,
            what="the working list to empty",
        )
    assert ran.items == [7]


def test_a_running_job_is_never_given_back(app: Henchman, redis_db: RedisDB) -> None:
    started, release = Recorder(), threading.Event()

    @app.job(name="reconcile.block")
    def block(n: int) -> None:
        started.add(n)
        release.wait(10)

    settings = redis_db.settings(concurrency=1, heartbeat_interval=0.1)
    with running_worker(app, settings) as worker:
        app.enqueue("reconcile.block", 1)
        wait_for(lambda: started.items == [1], what="the job to start")
        working = keys.working(worker.identity, "default")
        beats = float(redis_db.client.hget(keys.process(worker.identity), "beat") or 0)
        # Several heartbeats (each reconciles) pass while the job runs.
        wait_for(
            lambda: float(redis_db.client.hget(keys.process(worker.identity), "beat") or 0)
            > beats + 0.5,
            what="heartbeats while the job runs",
        )
        assert redis_db.client.llen(working) == 1
        assert redis_db.client.llen(keys.queue("default")) == 0
        release.set()
        wait_for(lambda: redis_db.client.llen(working) == 0, what="the acknowledgement")
    assert started.items == [1]


def fetcher_for(redis_db: RedisDB, identity: str = "me:1:abc") -> ReliableFetcher:
    return ReliableFetcher(
        redis_db.client, Scripts(redis_db.client), identity, [QueueSpec("default")],
        block_timeout=0.1, outages=OutageLog(),
    )  # fmt: skip


def test_a_finished_job_waiting_for_its_acknowledgement_is_never_given_back(
    app: Henchman, redis_db: RedisDB
) -> None:
    fetcher = fetcher_for(redis_db)
    app.enqueue("reconcile.any", 1)
    unit = fetcher.take()
    assert unit is not None
    fetcher.acknowledge_later(unit)  # finished; its LREM rides on the next round trip
    assert fetcher.reconcile() == 0
    assert redis_db.client.lrange(unit.working_key, 0, -1) == [unit.raw]
    fetcher.flush_acks()
    assert redis_db.client.llen(unit.working_key) == 0
    assert redis_db.client.llen(keys.queue("default")) == 0


def test_reconcile_gives_back_only_what_the_process_does_not_hold(
    app: Henchman, redis_db: RedisDB
) -> None:
    fetcher = fetcher_for(redis_db)
    app.enqueue("reconcile.any", 1)
    held = fetcher.take()  # fetched, not started yet: held all the same
    assert held is not None
    stray = late_fetch(redis_db, "me:1:abc", "reconcile.any", 2)
    assert fetcher.reconcile() == 1
    assert [j["jid"] for j in queue_jobs(redis_db.client, "default")] == [stray]
    assert redis_db.client.lrange(held.working_key, 0, -1) == [held.raw]


def settled_lists(redis_db: RedisDB, identity: str) -> bool:
    return not redis_db.client.llen(keys.working(identity, "default")) and not (
        redis_db.client.llen(keys.queue("default"))
    )


def test_a_stranded_job_goes_back_to_the_head_of_its_queue(
    app: Henchman, redis_db: RedisDB
) -> None:
    gate = threading.Event()
    ran = Recorder()

    @app.job(name="reconcile.hold")
    def hold(n: int) -> None:
        ran.add(n)
        gate.wait(10)

    settings = redis_db.settings(concurrency=1, heartbeat_interval=0.2)
    with running_worker(app, settings) as worker:
        app.enqueue("reconcile.hold", 0)
        wait_for(lambda: ran.items == [0], what="the first job to start")
        stranded = late_fetch(redis_db, worker.identity, "reconcile.hold", 1)
        for n in (2, 3):
            app.enqueue("reconcile.hold", n)
        wait_for(
            lambda: len(queue_jobs(redis_db.client, "default")) == 3, what="the give-back"
        )
        head = queue_jobs(redis_db.client, "default")[0]
        gate.set()
        wait_for(lambda: len(ran) == 4, what="every job")
    assert head["jid"] == stranded
    assert orjson.loads(orjson.dumps(ran.items)) == [0, 1, 2, 3]
