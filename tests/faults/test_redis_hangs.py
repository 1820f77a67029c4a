"""Redis that hangs instead of failing: the server process is frozen with
SIGSTOP, as a VM freeze or a stalled host would, then continued.

A hang is worse than a crash for a client: commands already sent are not refused, they run late,
after the client gave up waiting. A fetch that timed out may still move jobs into the worker's
working list when the server wakes; those jobs must run again at once, not wait for the worker
to stop.

Each test runs its own embedded server (it freezes it) and counts jobs run, lost and run twice.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from pathlib import Path

import orjson
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import EmbeddedServer
from tests.faults.conftest import server_pid
from tests.support.worker_process import fast_env, fault_moment, start_worker, stop, wait_for

OPTIONS = {"queue": "default", "retry": True}
#: Client socket timeout in these tests: HENCHMAN_REDIS_TIMEOUT (1 s) + fetch timeout (0.5 s).
REDIS_TIMEOUT = "1"
#: The hang is several times the socket timeout, so fetches time out and are retried meanwhile.
HANG_SECONDS = 5.0


def client_for(server: EmbeddedServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path))


def runs(client: redis.Redis) -> collections.Counter[str]:
    return collections.Counter(j.decode() for j in client.lrange("test:done", 0, -1))


def freeze(server: EmbeddedServer, seconds: float) -> None:
    """SIGSTOP the server for ``seconds``, then SIGCONT it."""
    pid = server_pid(server)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_a_redis_hang_mid_drain_strands_no_job_in_the_live_workers_lists(
    own_server: EmbeddedServer, workdir: Path
) -> None:
    total = 2000
    app = Henchman(Settings(redis_url=own_server.url, reliable_push=False))
    jids = app.client.push_bulk("proc_jobs.nap", [[0.005]] * total, OPTIONS)
    app.close()
    client = client_for(own_server)
    log = workdir / "worker.log"
    env = fast_env(own_server.url, HENCHMAN_REDIS_TIMEOUT=REDIS_TIMEOUT)
    worker = start_worker(workdir, env, "-c", "10", log=log)
    try:
        freeze_at = fault_moment(300, 900)
        wait_for(lambda: client.llen("test:done") >= freeze_at, what=f"{freeze_at} jobs done")
        freeze(own_server, HANG_SECONDS)
        # Every job runs while the worker lives: none may wait in its working list for a stop.
        wait_for(lambda: len(runs(client)) >= total, timeout=60, what=f"all {total} jobs run")
    finally:
        done = runs(client)
        lost = set(jids) - set(done)
        twice = {jid for jid, n in done.items() if n > 1}
        print(f"hang mid-drain: {len(done)} run, {len(lost)} lost, {len(twice)} run twice")
        stranded = sum(client.llen(k) for k in client.hkeys(keys.WORKING_LISTS))
        assert stop(worker) == 0
    assert not lost, f"{len(lost)} job(s) never ran ({stranded} in working lists)"
    assert not twice, f"{len(twice)} job(s) ran twice"
    assert client.llen(keys.queue("default")) == 0
    client.close()


def test_a_redis_hang_is_logged_once_as_unavailable_and_once_as_back(
    own_server: EmbeddedServer, workdir: Path
) -> None:
    # An idle worker: its fetch waits in BLMOVE, and background steps such as the metrics flush
    # have nothing to send, so none of them may pass for "Redis is back" during the hang.
    client = client_for(own_server)
    log = workdir / "worker.log"
    env = fast_env(own_server.url, HENCHMAN_REDIS_TIMEOUT=REDIS_TIMEOUT)
    worker = start_worker(workdir, env, "-c", "5", log=log)
    try:
        wait_for(lambda: client.scard(keys.PROCESSES) == 1, what="the worker's heartbeat")
        freeze(own_server, HANG_SECONDS)
        wait_for(lambda: "Redis is back" in log.read_text(), timeout=30, what="the outage end")
        time.sleep(2.0)  # a few more heartbeats and fetch rounds after the hang
        assert client.ping()
    finally:
        assert stop(worker) == 0
    text = log.read_text()
    assert text.count("Redis unavailable") == 1, text
    assert text.count("Redis is back") == 1, text
    client.close()


def frozen_for(server: EmbeddedServer, seconds: float) -> threading.Thread:
    """Freeze the server now and continue it after ``seconds``, from a background thread."""
    pid = server_pid(server)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)

    def thaw() -> None:
        time.sleep(seconds)
        os.kill(pid, signal.SIGCONT)

    thread = threading.Thread(target=thaw, daemon=True)
    thread.start()
    return thread


#: The documented bound: only the push that discovers an outage waits, for one socket timeout
#: (redis_timeout + fetch_timeout); later pushes join the buffer without touching Redis.
PUSH_SOCKET_TIMEOUT = 1.5


def test_pushes_during_a_redis_hang_wait_one_timeout_at_most_and_are_stored_once(
    own_server: EmbeddedServer,
) -> None:
    app = Henchman(Settings(redis_url=own_server.url, redis_timeout=1.0, fetch_timeout=0.5))
    app.client.push("warmup", [], OPTIONS)  # connected, and the queue registered
    thaw = frozen_for(own_server, HANG_SECONDS)
    latencies, jids = [], []
    for n in range(10):
        started = time.monotonic()
        jids.append(app.client.push("during", [n], OPTIONS))
        latencies.append(time.monotonic() - started)
    thaw.join()
    wait_for(lambda: len(app.client.buffer or ()) == 0, timeout=30, what="buffer delivered")
    client = client_for(own_server)
    queued = [orjson.loads(raw)["jid"] for raw in client.lrange(keys.queue("default"), 0, -1)]
    client.close()
    app.close()
    # The first push timed out (its LPUSH ran when Redis woke); it must not be stored twice.
    assert collections.Counter(queued) == collections.Counter([*jids, queued[-1]])
    assert list(reversed(queued))[1:] == jids, "delivered in push order"
    assert latencies[0] < PUSH_SOCKET_TIMEOUT + 1.0, latencies  # generous: a loaded machine
    assert max(latencies[1:]) < 0.5, latencies


ASYNC_JOBS = """
import asyncio, os
import redis.asyncio
import henchman

_client = None


@henchman.job
async def anap(seconds):
    global _client
    if _client is None:
        _client = redis.asyncio.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"])
    await _client.rpush("test:done", henchman.current_job().jid)
    await asyncio.sleep(seconds)
"""


def test_a_redis_hang_mid_drain_strands_no_async_job_either(
    own_server: EmbeddedServer, workdir: Path
) -> None:
    (workdir / "proc_async_jobs.py").write_text(ASYNC_JOBS)
    total = 2000
    app = Henchman(Settings(redis_url=own_server.url, reliable_push=False))
    jids = app.client.push_bulk("proc_async_jobs.anap", [[0.01]] * total, OPTIONS)
    app.close()
    client = client_for(own_server)
    env = fast_env(own_server.url, HENCHMAN_REDIS_TIMEOUT=REDIS_TIMEOUT)
    # A mixed app (proc_jobs holds sync jobs): thread and async fetchers share the working list.
    worker = start_worker(workdir, env, "-r", "proc_async_jobs", "-c", "2",
                          "--async-concurrency", "10")  # fmt: skip
    try:
        freeze_at = fault_moment(300, 900)
        wait_for(lambda: client.llen("test:done") >= freeze_at, what=f"{freeze_at} jobs done")
        freeze(own_server, HANG_SECONDS)
        wait_for(lambda: len(runs(client)) >= total, timeout=60, what=f"all {total} jobs run")
    finally:
        done = runs(client)
        lost = set(jids) - set(done)
        twice = {jid for jid, n in done.items() if n > 1}
        print(f"async hang mid-drain: {len(done)} run, {len(lost)} lost, {len(twice)} run twice")
        assert stop(worker) == 0
    assert not lost
    assert not twice
    client.close()
