"""Sentinel URLs on real servers: a master, a replica and three sentinels started by the test."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import RedisUnavailable
from henchman.redis.connection import Connector
from tests.scale.topology import SERVICE, SentinelTopology, free_port, wait_until
from tests.support.worker_process import fast_env, henchman_bin, stop

OPTIONS = {"queue": "default", "retry": False}

JOBS = """
import os, time
import henchman

_fd = os.open(os.environ["SCALE_EXECUTIONS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


@henchman.job
def record(n):
    time.sleep(0.005)
    os.write(_fd, f"{henchman.current_job().jid} {time.time():.3f}\\n".encode())
"""


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[SentinelTopology]:
    """A topology of the test's own (the failover test kills its master)."""
    topo = SentinelTopology(tmp_path / "servers")
    try:
        yield topo.start()
    finally:
        topo.stop()


@pytest.fixture(scope="module")
def shared_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelTopology]:
    """One topology for the tests that leave it as they found it (starting one takes seconds)."""
    topo = SentinelTopology(tmp_path_factory.mktemp("sentinel"))
    try:
        yield topo.start()
    finally:
        topo.stop()


def executions(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        jid, _, at = line.partition(" ")
        if at:
            rows.append((jid, float(at)))
    return rows


# Three sentinels notice the dead master after 1 s (down-after-milliseconds) and promote the
# replica within the 3 s failover timeout; with 5,000 jobs to push, drain and check on a loaded
# two-core machine the scenario takes 20-40 s, so it gets more than the default 120 s budget.
@pytest.mark.timeout(180)
def test_worker_follows_a_sentinel_failover_and_loses_no_replicated_job(
    topology: SentinelTopology, tmp_path: Path
) -> None:
    total = 5000
    url = topology.url()
    app = Henchman(Settings(redis_url=url, reliable_push=False))
    jids = app.client.push_bulk("scale_jobs.record", [[i] for i in range(total)], OPTIONS)
    assert topology.master is not None
    assert topology.replica is not None
    # Every job is on the replica before the run: none of them may be lost by the failover.
    assert topology.master.client().wait(1, 5000) == 1
    assert topology.replica.client().llen(keys.queue("default")) == total

    (tmp_path / "scale_jobs.py").write_text(JOBS)
    runs = tmp_path / "executions.txt"
    log = tmp_path / "worker.log"
    env = fast_env(url, SCALE_EXECUTIONS=str(runs))
    worker = start_worker_module(tmp_path, env, log)
    # Pushes made while the master dies: those it acknowledged but had not yet sent to the
    # replica are the only writes a failover may lose (counted below).
    pushed: list[tuple[str, float]] = []
    pushing = threading.Event()
    pushing.set()
    pusher_app = Henchman(Settings(redis_url=url, redis_timeout=1.0))

    def push_during_failover() -> None:
        while pushing.is_set():
            jid = pusher_app.client.push("scale_jobs.record", [-1], OPTIONS)
            assert jid is not None
            pushed.append((jid, time.time()))
            time.sleep(0.005)

    pusher = threading.Thread(target=push_during_failover, daemon=True)
    try:
        wait_until(lambda: len(executions(runs)) >= 1000, 60, "1,000 jobs done")
        pusher.start()
        time.sleep(0.5)
        topology.master.kill()
        killed_at = time.time()
        old_port = topology.master.port
        wait_until(
            lambda: topology.master_port_seen_by_sentinels() != old_port, 30, "the promotion"
        )
        promoted_at = time.time()
        wait_until(
            lambda: any(at > promoted_at for _, at in executions(runs)), 30, "the worker resuming"
        )
        resumed_at = min(at for _, at in executions(runs) if at > promoted_at)
        time.sleep(0.5)
        pushing.clear()
        pusher.join(30)
        pusher_app.close()  # delivers what the reliable-push buffer held during the outage
        # The client follows the failover too: a push after it lands on the new master.
        late = app.client.push("scale_jobs.record", [total], OPTIONS)
        wait_until(
            lambda: {j for j, _ in executions(runs)} >= {*jids, late}, 90, "every job executed"
        )
        new_master = topology.replica.client()
        wait_until(lambda: new_master.llen(keys.queue("default")) == 0, 30, "the queue drained")
        time.sleep(1.0)  # the last fetched jobs finish
    finally:
        pushing.clear()
        assert stop(worker) == 0
        app.close()
    runs_by_jid = [j for j, _ in executions(runs)]
    lost = {*jids, late} - set(runs_by_jid)
    lost_in_flight = [(jid, at) for jid, at in pushed if jid not in set(runs_by_jid)]
    duplicates = len(runs_by_jid) - len(set(runs_by_jid))
    print(
        f"sentinel failover: promotion {promoted_at - killed_at:.1f} s after the kill, worker "
        f"resumed {resumed_at - promoted_at:.1f} s after it; executed {len(set(runs_by_jid))}, "
        f"lost {len(lost)} of {total + 1} replicated, {len(lost_in_flight)} of {len(pushed)} "
        f"pushed around the kill, duplicates {duplicates}"
    )
    assert not lost
    # A lost push can only be one the dying master acknowledged just before the kill.
    assert all(killed_at - 1.0 <= at <= killed_at for _, at in lost_in_flight), lost_in_flight
    assert resumed_at - promoted_at < 10
    text = log.read_text()
    assert len(re.findall("Redis Sentinel failover", text)) == 1, text[-3000:]


def start_worker_module(directory: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``henchman run -r scale_jobs -c 5`` in ``directory``, output to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [henchman_bin(), "run", "-r", "scale_jobs", "-c", "5"],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_sentinel_url_whose_sentinels_are_all_unreachable_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    url = f"redis+sentinel://:s3cret@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/mymaster"
    env = fast_env(url)
    done = subprocess.run(
        [henchman_bin(), "stats"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    err = done.stderr.decode().strip()
    assert "cannot reach any Redis Sentinel" in err
    assert len(err.splitlines()) == 1
    assert "s3cret" not in err + done.stdout.decode()


def test_a_sentinel_url_naming_an_unknown_service_is_refused_at_worker_start(
    shared_topology: SentinelTopology, tmp_path: Path
) -> None:
    hosts = ",".join(f"127.0.0.1:{s.port}" for s in shared_topology.sentinels)
    env = fast_env(f"redis+sentinel://{hosts}/no-such-service")
    (tmp_path / "scale_jobs.py").write_text("")
    done = subprocess.run(
        [henchman_bin(), "run", "-r", "scale_jobs"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    out = (done.stdout + done.stderr).decode()
    assert "no Redis Sentinel knows a reachable master" in out
    assert "'no-such-service'" in out


def test_clients_of_a_sentinel_url_reach_the_master_sync_and_async(
    shared_topology: SentinelTopology,
) -> None:
    import asyncio

    topology = shared_topology
    connector = Connector(Settings(redis_url=topology.url(db=3)))
    client = connector.check()
    client.set("k", "v")
    assert topology.master is not None
    assert topology.master.client(db=3).get("k") == b"v"

    async def read() -> bytes | None:
        aclient = connector.asyncio()
        try:
            value: bytes | None = await aclient.get("k")
            return value
        finally:
            await aclient.aclose()

    assert asyncio.run(read()) == b"v"
    client.close()


def test_an_unknown_service_raises_redis_unavailable_from_check(
    shared_topology: SentinelTopology,
) -> None:
    url = shared_topology.url().replace(SERVICE, "other")
    with pytest.raises(RedisUnavailable, match="'other'"):
        Connector(Settings(redis_url=url)).check()


def test_a_push_with_push_wait_replicas_is_on_the_replica_when_it_returns(
    shared_topology: SentinelTopology,
) -> None:
    app = Henchman(
        Settings(redis_url=shared_topology.url(db=5), push_wait_replicas=1, push_wait_timeout=5)
    )
    assert shared_topology.replica is not None
    replica = shared_topology.replica.client(db=5)
    try:
        for i in range(20):
            jid = app.client.push("job", [i], OPTIONS)
            newest = replica.lindex(keys.queue("default"), 0)
            assert newest is not None
            assert jid is not None
            assert jid.encode() in newest
    finally:
        app.close()


def test_the_cli_reads_stats_through_a_sentinel_url(
    shared_topology: SentinelTopology, tmp_path: Path
) -> None:
    app = Henchman(Settings(redis_url=shared_topology.url(db=6), reliable_push=False))
    app.client.push("job", [1], {"queue": "reports"})
    app.close()
    done = subprocess.run(
        [henchman_bin(), "queues"],
        cwd=tmp_path,
        env=fast_env(shared_topology.url(db=6)),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "reports" in done.stdout.decode()


def test_the_web_ui_reads_queues_through_a_sentinel_url(
    shared_topology: SentinelTopology,
) -> None:
    import httpx

    from henchman.web import create_app
    from tests.web.conftest import serve

    app = Henchman(Settings(redis_url=shared_topology.url(db=7), reliable_push=False))
    app.client.push("job", [1], {"queue": "invoices"})
    app.close()
    ui = create_app(Settings(redis_url=shared_topology.url(db=7)))
    with serve(ui) as url, httpx.Client(base_url=url) as http:
        page = http.get("/queues")
    assert page.status_code == 200
    assert "invoices" in page.text


def test_doctor_checks_the_master_behind_a_sentinel_url(
    shared_topology: SentinelTopology, tmp_path: Path
) -> None:
    done = subprocess.run(
        [henchman_bin(), "doctor"],
        cwd=tmp_path,
        env=fast_env(shared_topology.url()),
        capture_output=True,
        timeout=60,
        check=False,
    )
    out = done.stdout.decode()
    assert "reachable at redis+sentinel://" in out, out + done.stderr.decode()
    assert "clock" in out
