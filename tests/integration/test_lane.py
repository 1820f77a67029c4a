"""The fast lane (henchman.redis.lane) on a real server: one held connection, and the client's
own path whenever the lane is busy, broken or inherited across a fork; pushes and the worker's
fetch use it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson
import pytest
import redis

from henchman import keys
from henchman.config import QueueSpec
from henchman.redis.lane import Lane
from henchman.redis.scripts import Scripts
from henchman.server.fetch import ReliableFetcher
from henchman.server.outage import OutageLog
from tests.conftest import RedisDB


@pytest.fixture
def lane(redis_db: RedisDB) -> Iterator[Lane]:
    client = redis.Redis.from_url(redis_db.url)
    lane = Lane(client)
    yield lane
    lane.close()
    client.close()


def client_id(lane: Lane) -> int:
    return int(lane.execute("CLIENT", "ID"))


def test_the_lane_keeps_one_connection_for_every_command(lane: Lane) -> None:
    first = client_id(lane)
    for n in range(50):
        assert lane.execute("LPUSH", "lane:q", n) == n + 1
    assert client_id(lane) == first


def test_a_busy_lane_sends_through_the_client(lane: Lane) -> None:
    held = client_id(lane)
    assert lane._lock.acquire()  # another thread is using the lane
    try:
        assert client_id(lane) != held  # answered on a pooled connection instead
        assert lane.execute("LPUSH", "lane:q", "x") == 1
    finally:
        lane._lock.release()


def test_a_killed_connection_falls_back_and_the_next_command_reconnects(
    lane: Lane, redis_db: RedisDB
) -> None:
    victim = client_id(lane)
    redis_db.client.client_kill_filter(_id=victim)
    assert lane.execute("LPUSH", "lane:q", "after-kill") == 1  # through the client, retried
    again = client_id(lane)
    assert again != victim
    assert client_id(lane) == again  # the lane holds its new connection
    assert redis_db.client.lrange("lane:q", 0, -1) == [b"after-kill"]


def test_a_forked_child_uses_its_own_connection(lane: Lane) -> None:
    parent = client_id(lane)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never touch the parent's socket
        try:
            os.write(write, str(client_id(lane)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 32))
    os.waitpid(pid, 0)
    os.close(read)
    assert child != parent
    assert client_id(lane) == parent  # the parent's connection was left alone


def fetcher_on(redis_db: RedisDB, client: redis.Redis) -> ReliableFetcher:
    return ReliableFetcher(
        client, Scripts(client), "host:1:abc", [QueueSpec("default")],
        block_timeout=0.1, outages=OutageLog(),
    )  # fmt: skip


def push_jobs(redis_db: RedisDB, count: int) -> None:
    for n in range(count):
        redis_db.client.lpush(keys.queue("default"), orjson.dumps({"class": "J", "args": [n]}))


def test_the_fetch_uses_a_held_connection_not_a_pool_checkout_per_round(
    redis_db: RedisDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_db.url)
    fetcher = fetcher_on(redis_db, client)
    push_jobs(redis_db, 20)
    first = fetcher.take()  # takes the lane's connection and loads the script
    assert first is not None
    fetcher.acknowledge_later(first)
    checkouts = []
    real = client.connection_pool.get_connection
    monkeypatch.setattr(
        client.connection_pool, "get_connection", lambda: checkouts.append(1) or real()
    )
    taken = []
    for _ in range(19):
        unit = fetcher.take()
        assert unit is not None
        taken.append(orjson.loads(unit.raw)["args"][0])
        fetcher.acknowledge_later(unit)
    assert sorted(taken) == list(range(1, 20))
    assert checkouts == []  # every later round, with its acknowledgements, on the held one
    assert redis_db.client.llen(fetcher.working["default"]) == 1  # only the last, unacked
    client.close()


def test_a_fetch_after_the_server_lost_its_scripts_loads_them_again(redis_db: RedisDB) -> None:
    client = redis.Redis.from_url(redis_db.url)
    fetcher = fetcher_on(redis_db, client)
    push_jobs(redis_db, 2)
    assert fetcher.take() is not None
    redis_db.client.script_flush()  # as after a restart without persistence of scripts
    unit = fetcher.take()
    assert unit is not None
    assert orjson.loads(unit.raw)["args"] == [1]
    assert redis_db.client.llen(fetcher.working["default"]) == 2
    client.close()
