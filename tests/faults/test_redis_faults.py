"""Redis faults: restarts, an unreachable server, a failover.

Each test runs its own embedded server (these tests stop and restart it).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import PushBufferFull
from henchman.redis.embedded import EmbeddedServer
from tests.support.worker_process import fast_env, start_worker, stop, wait_for

OPTIONS = {"queue": "default", "retry": True}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    own = EmbeddedServer(tmp_path / "home")
    own.ensure_running()
    yield own
    own.stop()


def client_for(server: EmbeddedServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path))


def done_jids(client: redis.Redis) -> set[bytes]:
    try:
        return set(client.lrange("test:done", 0, -1))
    except redis.ConnectionError:
        return set()


def test_worker_rides_through_a_redis_restart_and_loses_nothing(
    server: EmbeddedServer, workdir: Path
) -> None:
    app = Henchman(Settings(redis_url=server.url, reliable_push=False))
    jids = app.client.push_bulk("proc_jobs.slow", [[0.002]] * 5000, OPTIONS)
    app.close()
    client = client_for(server)
    log = workdir / "worker.log"
    worker = start_worker(workdir, fast_env(server.url), "-c", "10", log=log)
    try:
        wait_for(lambda: len(done_jids(client)) >= 1000, what="1,000 jobs done")
        server.stop()  # SHUTDOWN: the AOF is fsynced; the worker sees connection errors
        time.sleep(1.5)
        server.ensure_running()
        wait_for(lambda: len(done_jids(client)) == 5000, timeout=120, what="all 5,000 jobs")
    finally:
        assert stop(worker) == 0
    assert {j.encode() for j in jids} == done_jids(client)
    assert client.llen(keys.queue("default")) == 0
    text = log.read_text()
    assert text.count("Redis unavailable") <= 2, "one line per outage (per component at most)"
    assert "Redis is back" in text
    client.close()


def test_pushes_while_redis_is_down_are_delivered_in_order(server: EmbeddedServer) -> None:
    app = Henchman(Settings(redis_url=server.url, redis_timeout=0.5))
    app.client.push("warmup", [], OPTIONS)  # connect once while the server is up
    server.stop()
    jids = [app.client.push("ordered", [i], OPTIONS) for i in range(1000)]
    assert all(jids)
    assert len(app.client.buffer or ()) == 1000
    server.ensure_running()
    wait_for(lambda: len(app.client.buffer or ()) == 0, timeout=30, what="buffer flushed")
    client = client_for(server)
    queued = [orjson.loads(r) for r in client.lrange(keys.queue("default"), 0, -1)]
    ordered = [job["jid"] for job in reversed(queued) if job["class"] == "ordered"]
    assert ordered == jids  # the head (right end) is the first pushed
    client.close()
    app.close()


def test_a_full_push_buffer_raises_and_stores_nothing_more(server: EmbeddedServer) -> None:
    app = Henchman(Settings(redis_url=server.url, redis_timeout=0.5, push_buffer_size=5))
    server.stop()
    for i in range(5):
        app.client.push("job", [i], OPTIONS)
    with pytest.raises(PushBufferFull, match="5/5"):
        app.client.push("job", [5], OPTIONS)
    assert len(app.client.buffer or ()) == 5
    server.ensure_running()
    wait_for(lambda: len(app.client.buffer or ()) == 0, timeout=30, what="buffer flushed")
    client = client_for(server)
    assert client.llen(keys.queue("default")) == 5
    client.close()
    app.close()


def test_worker_rides_through_a_failover_to_read_only(
    server: EmbeddedServer, workdir: Path
) -> None:
    """A primary demoted to a replica answers READONLY to every write until it is promoted
    again (what a failover looks like to a client holding the old address)."""
    app = Henchman(Settings(redis_url=server.url, reliable_push=False))
    jids = app.client.push_bulk("proc_jobs.slow", [[0.002]] * 2000, OPTIONS)
    app.close()
    client = client_for(server)
    log = workdir / "worker.log"
    worker = start_worker(workdir, fast_env(server.url), log=log)
    try:
        wait_for(lambda: len(done_jids(client)) >= 300, what="300 jobs done")
        # A replica of a primary that does not exist keeps its data and refuses writes.
        client.execute_command("REPLICAOF", "127.0.0.1", str(_unused_port()))
        wait_for(lambda: "Redis unavailable" in log.read_text(), what="the outage noticed")
        time.sleep(1.0)
        client.execute_command("REPLICAOF", "NO", "ONE")
        wait_for(lambda: len(done_jids(client)) == 2000, timeout=120, what="all 2,000 jobs")
    finally:
        assert stop(worker) == 0
    assert {j.encode() for j in jids} == done_jids(client)
    assert "ReadOnlyError" in log.read_text()
    client.close()


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_async_pushes_while_redis_is_down_are_buffered_and_delivered_in_order(
    server: EmbeddedServer,
) -> None:
    import asyncio

    app = Henchman(Settings(redis_url=server.url, redis_timeout=0.5))

    async def push_all() -> list[str | None]:
        await app.aclient.push("warmup", [], OPTIONS)
        server.stop()
        jids = [await app.aclient.push("ordered", [i], OPTIONS) for i in range(50)]
        await app.aclient.aclose()
        return jids

    jids = asyncio.run(push_all())
    assert len(app.client.buffer or ()) == 50
    server.ensure_running()
    wait_for(lambda: len(app.client.buffer or ()) == 0, timeout=30, what="buffer flushed")
    client = client_for(server)
    queued = [orjson.loads(r) for r in client.lrange(keys.queue("default"), 0, -1)]
    assert [job["jid"] for job in reversed(queued) if job["class"] == "ordered"] == jids
    client.close()
    app.close()


def test_pushes_still_undeliverable_at_exit_are_logged_with_their_jids(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    script = tmp_path / "pusher.py"
    script.write_text(
        "import sys\n"
        "from henchman.app import Henchman\n"
        "from henchman.config import Settings\n"
        f"app = Henchman(Settings(redis_url={server.url!r}, redis_timeout=0.5))\n"
        "app.client.push('warmup', [], {'queue': 'default', 'retry': True})\n"
        "sys.stdin.readline()  # the test stops the server here\n"
        "for n in range(2):\n"
        "    print(app.client.push('late', [n], {'queue': 'default', 'retry': True}), flush=True)\n"
    )
    import subprocess
    import sys

    pusher = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    client = client_for(server)
    wait_for(lambda: client.llen(keys.queue("default")) == 1, what="the warmup push")
    client.close()
    server.stop()
    out, err = pusher.communicate("go\n", timeout=60)
    jids = out.split()
    assert len(jids) == 2
    for jid in jids:  # buffered, then logged at exit because Redis never came back
        assert f"push of job {jid} to queue 'default' could not be delivered" in err
