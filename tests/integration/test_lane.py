"""The push fast lane (henchman.redis.lane) on a real server: one held connection, and the
client's own path whenever the lane is busy, broken or inherited across a fork."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from henchman.redis.lane import Lane
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
