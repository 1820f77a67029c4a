"""A network partition between a worker and Redis, and a Redis killed with SIGKILL. Each test
owns its server and counts jobs run, lost and run twice by jid."""

from __future__ import annotations

import collections
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import EmbeddedServer
from tests.faults.conftest import server_pid
from tests.support.partition import PartitionProxy
from tests.support.worker_process import fast_env, fault_moment, start_worker, stop, wait_for

OPTIONS = {"queue": "default", "retry": True}


@pytest.fixture
def proxy(own_server: EmbeddedServer) -> Iterator[PartitionProxy]:
    running = PartitionProxy(own_server.socket_path)
    yield running
    running.close()


def client_for(server: EmbeddedServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path))


def runs(client: redis.Redis) -> collections.Counter[str]:
    try:
        return collections.Counter(j.decode() for j in client.lrange("test:done", 0, -1))
    except redis.ConnectionError:
        return collections.Counter()


def push_naps(server: EmbeddedServer, count: int, seconds: float) -> list[str]:
    app = Henchman(Settings(redis_url=server.url, reliable_push=False))
    try:
        return app.client.push_bulk("proc_jobs.nap", [[seconds]] * count, OPTIONS)
    finally:
        app.close()


def report(scenario: str, jids: list[str], done: collections.Counter[str]) -> tuple[int, int]:
    lost = len(set(jids) - set(done))
    twice = sum(1 for n in done.values() if n > 1)
    print(f"{scenario}: {len(done)} run, {lost} lost, {twice} run twice")
    return lost, twice


def test_a_network_partition_mid_drain_loses_no_job_and_strands_none(
    own_server: EmbeddedServer, proxy: PartitionProxy, workdir: Path
) -> None:
    total = 1500
    jids = push_naps(own_server, total, 0.005)
    client = client_for(own_server)
    env = fast_env(proxy.url, HENCHMAN_REDIS_TIMEOUT="1")
    worker = start_worker(workdir, env, "-c", "10")
    try:
        cut_at = fault_moment(200, 700)
        wait_for(lambda: client.llen("test:done") >= cut_at, what=f"{cut_at} jobs done")
        with proxy.partition():
            time.sleep(4.0)  # longer than the socket timeout: fetches time out meanwhile
        wait_for(lambda: len(runs(client)) >= total, timeout=60, what=f"all {total} jobs run")
    finally:
        lost, twice = report("partition mid-drain", jids, runs(client))
        assert stop(worker) == 0
    assert (lost, twice) == (0, 0)
    assert client.llen(keys.queue("default")) == 0
    client.close()


def test_redis_killed_with_sigkill_and_restarted_mid_drain_loses_nothing(
    own_server: EmbeddedServer, workdir: Path
) -> None:
    total = 3000
    jids = push_naps(own_server, total, 0.002)
    client = client_for(own_server)
    worker = start_worker(workdir, fast_env(own_server.url), "-c", "10")
    try:
        kill_at = fault_moment(300, 1500)
        wait_for(lambda: client.llen("test:done") >= kill_at, what=f"{kill_at} jobs done")
        pid = server_pid(own_server)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no SHUTDOWN, no final fsync: the AOF as the kill left it
        wait_for(lambda: server_pid(own_server) is None, what="the server to die")
        time.sleep(1.0)
        own_server.ensure_running()
        wait_for(lambda: len(runs(client)) >= total, timeout=90, what=f"all {total} jobs run")
    finally:
        lost, twice = report("Redis SIGKILL mid-drain", jids, runs(client))
        assert stop(worker) == 0
    # A killed process (not a crashed machine) loses nothing the AOF was written with; only a
    # job whose acknowledgement was lost with the server can run again.
    assert lost == 0
    assert twice <= 10
    assert client.llen(keys.queue("default")) == 0
    client.close()
