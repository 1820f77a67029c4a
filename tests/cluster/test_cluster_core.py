"""The cluster key layout against a real 3-master cluster: push, fetch, acknowledge, retry, dead,
scheduled, recovery, reconcile, heartbeats, stats and the admin API.

Every step runs on a redis-py cluster client, which raises on a CROSSSLOT (or on a multi-key
command whose keys it cannot route), so each test passing also proves its steps stay in one slot.
"""

from __future__ import annotations

import time

import orjson
from redis.cluster import RedisCluster

from henchman import keys
from henchman.api import DeadSet, ProcessSet, Queue, RetrySet, ScheduledSet, Stats
from henchman.client.plan import PushPlan
from henchman.client.sync import Client
from henchman.config import QueueSpec
from henchman.redis.scripts import Scripts
from henchman.server.fetch import ReliableFetcher
from henchman.server.heartbeat import Heartbeat
from henchman.server.outage import OutageLog
from henchman.server.poller import Poller
from henchman.server.recovery import OrphanRecovery, register_working_lists
from henchman.server.stats import Counters
from tests.cluster._helpers import slot, spread_queues

L = keys.CLUSTER


def _job(queue: str, jid: str, **extra: object) -> bytes:
    return orjson.dumps({"class": "Work", "args": [], "queue": queue, "jid": jid, **extra})


def _client(rc: RedisCluster) -> Client:
    return Client(lambda: rc, layout=L)


def _fetcher(rc: RedisCluster, names: list[str], identity: str = "host:1:abc") -> ReliableFetcher:
    return ReliableFetcher(
        rc,
        Scripts(rc),
        identity,
        [QueueSpec(n) for n in names],
        block_timeout=0.1,
        outages=OutageLog(),
        layout=L,
    )


def test_queue_keys_and_their_sets_share_the_queue_slot_and_queues_spread() -> None:
    names = spread_queues(3)
    for name in names:
        own = {
            slot(k)
            for k in (
                L.queue(name),
                L.working("h:1:x", name),
                L.schedule(name),
                L.retry(name),
                L.dead(name),
                L.poison(name),
                L.recoveries(name),
            )
        }
        assert len(own) == 1
    assert len({slot(L.queue(n)) * 3 // 16384 for n in names}) == 3
    shared = {L.QUEUES, L.PROCESSES, L.process("h:1:x"), L.STAT_PROCESSED, L.WORKING_LISTS}
    assert len({slot(k) for k in shared}) == 1


def test_push_writes_each_queue_in_its_own_slot_and_registers_it(rc: RedisCluster) -> None:
    names = spread_queues(3)
    client = _client(rc)
    for name in names:
        client.push("Work", [1], {"queue": name})
        client.push("Work", [2], {"queue": name})
    for name in names:
        assert rc.llen(L.queue(name)) == 2
    assert {m.decode() for m in rc.smembers(L.QUEUES)} == set(names)
    assert not rc.exists("queues")
    assert not rc.exists("queue:" + names[0])


def test_scheduled_push_goes_to_its_queue_schedule_and_registers_the_queue(
    rc: RedisCluster,
) -> None:
    client = _client(rc)
    client.push("Work", [], {"queue": "later"}, delay=3600)
    assert rc.zcard(L.schedule("later")) == 1
    assert rc.sismember(L.QUEUES, "later")


def test_redelivery_after_an_unknown_outcome_stores_each_job_once(rc: RedisCluster) -> None:
    names = spread_queues(2)
    plans = [PushPlan(f"j{i}", names[i % 2], _job(names[i % 2], f"j{i}"), None) for i in range(4)]
    plans.append(PushPlan("s", names[0], _job(names[0], "s"), time.time() + 60))
    client = _client(rc)
    client.write_now(plans, once=True)
    client.write_now(plans, once=True)
    assert rc.llen(L.queue(names[0])) == 2
    assert rc.llen(L.queue(names[1])) == 2
    assert rc.zcard(L.schedule(names[0])) == 1


def test_fetch_takes_from_queues_on_every_shard_and_acks_empty_the_working_lists(
    rc: RedisCluster,
) -> None:
    names = spread_queues(3)
    for name in names:
        for i in range(3):
            rc.lpush(L.queue(name), _job(name, f"{name}-{i}"))
    fetcher = _fetcher(rc, names)
    units = []
    while len(units) < 9:
        unit = fetcher.take()
        assert unit is not None
        units.append(unit)
    assert sorted(u.queue for u in units) == sorted(names * 3)
    for name in names:
        assert rc.llen(L.queue(name)) == 0
        assert rc.llen(L.working("host:1:abc", name)) == 3
    for unit in units:
        fetcher.acknowledge_later(unit)
    assert fetcher.flush_acks() == 9
    for name in names:
        assert rc.llen(L.working("host:1:abc", name)) == 0


def test_acknowledgements_ride_on_the_next_per_queue_fetch(rc: RedisCluster) -> None:
    names = spread_queues(2)
    rc.lpush(L.queue(names[0]), _job(names[0], "a"))
    fetcher = _fetcher(rc, names)
    unit = fetcher.take()
    assert unit is not None
    fetcher.acknowledge_later(unit)
    rc.lpush(L.queue(names[1]), _job(names[1], "b"))
    second = fetcher.take()
    assert second is not None
    assert second.queue == names[1]
    assert rc.llen(L.working("host:1:abc", names[0])) == 0


def test_requeue_all_puts_fetched_jobs_back_at_the_head_of_their_queues(
    rc: RedisCluster,
) -> None:
    names = spread_queues(2)
    for name in names:
        rc.lpush(L.queue(name), _job(name, name + "-old"), _job(name, name + "-new"))
    fetcher = _fetcher(rc, names)
    assert fetcher.take() is not None
    assert fetcher.requeue_all() >= 1
    for name in names:
        assert rc.llen(L.queue(name)) == 2
        assert orjson.loads(rc.lindex(L.queue(name), -1))["jid"] == name + "-old"


def test_reconcile_gives_back_jobs_the_worker_does_not_hold(rc: RedisCluster) -> None:
    names = spread_queues(2)
    fetcher = _fetcher(rc, names)
    rc.lpush(L.working("host:1:abc", names[1]), _job(names[1], "stray"))
    assert fetcher.reconcile() == 1
    assert rc.llen(L.queue(names[1])) == 1


def test_retry_and_dead_writes_land_in_the_sets_of_the_jobs_queue(rc: RedisCluster) -> None:
    names = spread_queues(2)
    scripts = Scripts(rc)
    for name in names:
        for jid in ("r", "d"):
            rc.lpush(L.working("h:1:x", name), _job(name, jid))
        scripts(
            "ack", [L.working("h:1:x", name), L.retry(name)], [_job(name, "r"), "1", b"R", "", ""]
        )
        scripts(
            "ack", [L.working("h:1:x", name), L.dead(name)], [_job(name, "d"), "1", b"D", "0", 10]
        )
        assert rc.zrange(L.retry(name), 0, -1) == [b"R"]
        assert rc.zrange(L.dead(name), 0, -1) == [b"D"]
        assert rc.llen(L.working("h:1:x", name)) == 0


def test_poller_moves_due_jobs_of_every_registered_queue(rc: RedisCluster) -> None:
    names = spread_queues(3)
    now = time.time()
    for name in names:
        rc.sadd(L.QUEUES, name)
        rc.zadd(L.schedule(name), {_job(name, name + "-s"): now - 1})
        rc.zadd(L.retry(name), {_job(name, name + "-r"): now - 1, _job(name, "future"): now + 60})
    moved = Poller(rc, Scripts(rc), time.time, L).enqueue_due()
    assert moved == 6
    for name in names:
        queued = [orjson.loads(raw) for raw in rc.lrange(L.queue(name), 0, -1)]
        assert {j["jid"] for j in queued} == {name + "-s", name + "-r"}
        assert all("enqueued_at" in j for j in queued)
        assert rc.zcard(L.retry(name)) == 1


def _recovery(rc: RedisCluster, identity: str = "live:1:aaa", limit: int = 3) -> OrphanRecovery:
    return OrphanRecovery(
        rc,
        Scripts(rc),
        identity,
        poison_limit=limit,
        dead_max_jobs=100,
        dead_timeout=3600,
        clock=time.time,
        layout=L,
    )


def test_recovery_gives_a_dead_process_jobs_back_to_their_queues(rc: RedisCluster) -> None:
    names = spread_queues(3)
    working = {name: L.working("ghost:1:bbb", name) for name in names}
    register_working_lists(rc, "ghost:1:bbb", working, L)
    for name, key in working.items():
        rc.lpush(key, _job(name, name + "-1"), _job(name, name + "-2"))
    assert _recovery(rc).run_once() == 6
    for name, key in working.items():
        assert rc.llen(L.queue(name)) == 2
        assert rc.llen(key) == 0
    assert rc.hlen(L.WORKING_LISTS) == 0
    assert int(rc.get(L.STAT_RECOVERED)) == 6


def test_recovery_leaves_a_live_process_alone(rc: RedisCluster) -> None:
    working = {"a": L.working("alive:1:ccc", "a")}
    register_working_lists(rc, "alive:1:ccc", working, L)
    rc.hset(L.process("alive:1:ccc"), "beat", "1")
    rc.lpush(working["a"], _job("a", "x"))
    assert _recovery(rc).run_once() == 0
    assert rc.llen(working["a"]) == 1


def test_poison_pill_goes_to_its_queue_dead_set(rc: RedisCluster) -> None:
    working = {"p": L.working("ghost:2:ddd", "p")}
    register_working_lists(rc, "ghost:2:ddd", working, L)
    rc.sadd(L.QUEUES, "p")
    rc.lpush(working["p"], _job("p", "pill"))
    _recovery(rc, limit=1).run_once()
    dead = [orjson.loads(raw) for raw in rc.zrange(L.dead("p"), 0, -1)]
    assert [d["error_class"] for d in dead] == ["henchman.PoisonPill"]
    assert rc.llen(L.poison("p")) == 0


def test_heartbeat_registers_the_process_in_the_shared_slot(rc: RedisCluster) -> None:
    counters = Counters()
    counters.processed_one()
    beat = Heartbeat(rc, "h:9:eee", b'{"hostname":"h"}', counters, ttl=60, concurrency=2, layout=L)
    beat.beat(busy=1, quiet=False, work={})
    assert rc.sismember(L.PROCESSES, "h:9:eee")
    assert [p.identity for p in ProcessSet(rc).all()] == ["h:9:eee"]
    assert Stats(rc).processed == 1
    beat.clear()
    assert not rc.sismember(L.PROCESSES, "h:9:eee")


def test_stats_sum_every_queue_sets(rc: RedisCluster) -> None:
    names = spread_queues(3)
    for i, name in enumerate(names):
        rc.sadd(L.QUEUES, name)
        rc.lpush(L.queue(name), _job(name, "q"))
        rc.zadd(L.retry(name), {_job(name, f"r{j}"): j for j in range(i + 1)})
        rc.zadd(L.dead(name), {_job(name, "d"): 1})
    summary = Stats(rc).summary()
    assert (summary.enqueued, summary.retry_size, summary.dead_size) == (3, 6, 3)
    assert Stats(rc).retry_size == 6
    assert sorted(q.name for q in Queue.all(rc)) == sorted(names)


def test_admin_sets_merge_queues_newest_first_and_move_jobs_in_their_slot(
    rc: RedisCluster,
) -> None:
    a, b = spread_queues(2)
    rc.sadd(L.QUEUES, a, b)
    rc.zadd(L.retry(a), {_job(a, "a1", retry_count=1): 10.0, _job(a, "a3"): 30.0})
    rc.zadd(L.retry(b), {_job(b, "b2", retry_count=2): 20.0})
    retries = RetrySet(rc)
    assert retries.size == 3
    assert [r.jid for r in retries.page(0, 10)] == ["a3", "b2", "a1"]
    assert [r.jid for r in retries.page(1, 1)] == ["b2"]
    assert [r.jid for r in retries] == ["a3", "b2", "a1"]
    b2 = retries.find_job("b2")
    assert b2 is not None
    assert retries.retry(b2)
    moved = orjson.loads(rc.lindex(L.queue(b), 0))
    assert moved["jid"] == "b2"
    assert moved["retry_count"] == 1
    a1 = retries.fetch(10.0)[0]
    assert retries.kill(a1)
    assert [r.jid for r in DeadSet(rc)] == ["a1"]
    assert rc.zcard(L.dead(a)) == 1
    assert retries.clear() == 1
    assert ScheduledSet(rc).size == 0


def test_admin_retry_all_drains_every_queue_set(rc: RedisCluster) -> None:
    a, b = spread_queues(2)
    rc.sadd(L.QUEUES, a, b)
    rc.zadd(L.dead(a), {_job(a, "x"): 1.0})
    rc.zadd(L.dead(b), {_job(b, "y"): 2.0})
    assert DeadSet(rc).retry_all() == 2
    assert rc.llen(L.queue(a)) == 1
    assert rc.llen(L.queue(b)) == 1


def test_queue_clear_keeps_the_name_registered_for_the_poller(rc: RedisCluster) -> None:
    rc.sadd(L.QUEUES, "c")
    rc.lpush(L.queue("c"), _job("c", "1"))
    rc.zadd(L.schedule("c"), {_job("c", "2"): time.time() + 60})
    assert Queue(rc, "c").clear() == 1
    assert rc.sismember(L.QUEUES, "c")


def test_pause_is_read_from_the_shared_slot(rc: RedisCluster) -> None:
    Queue(rc, "p").pause()
    assert rc.sismember(L.PAUSED, "p")
    assert Queue(rc, "p").paused


def test_an_iterable_jobs_ledger_and_state_stay_in_the_jobs_slot(rc: RedisCluster) -> None:
    from henchman.api import IterationState
    from henchman.iteration import state
    from henchman.iteration.progress import ProcessedIds, RowLedger

    ledger = RowLedger("j1", lambda: rc, layout=L)
    ledger.processed(1, 2)
    ledger.failed(3, "bad row")
    ProcessedIds("j1", lambda: rc, layout=L).done("a", "b")
    state.flush(rc, "j1", state.Checkpoint(), L)
    record = IterationState(rc).find("j1")
    assert record is not None
    assert record.done_ids == 2
    assert record.ledger.processed == 2
    state.cleanup(rc, "j1", 0, L)
    assert IterationState(rc).find("j1") is None
