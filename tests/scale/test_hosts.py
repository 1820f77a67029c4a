"""Several hosts on one Redis, simulated with network namespaces (needs root and iproute2).

Each "host" is a network namespace joined to the test's namespace by a veth pair of its own; the
Redis server listens on the host side of every pair, so traffic flows only over links the test
made. Cutting a host's link (``ip link set ... down``) is a network partition for the worker in
it: its heartbeat expires, the other hosts recover the jobs it held, and when the link returns it
rejoins. All three workers share one hostname (namespaces share the UTS namespace), which is also
what containers on one node often look like.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import find_binary
from tests.scale.topology import free_port, wait_until
from tests.support.worker_process import fast_env, henchman_bin, stop

OPTIONS = {"queue": "default", "retry": False}

JOBS = """
import os, time
import henchman

_fd = os.open(os.environ["SCALE_EXECUTIONS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


@henchman.job
def work(seconds):
    time.sleep(seconds)
    os.write(_fd, f"{henchman.current_job().jid} {os.getpid()} {time.time():.3f}\\n".encode())
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _netns_usable() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    name = f"hmprobe{os.getpid()}"
    try:
        _ip("netns", "add", name)
        _ip("netns", "del", name)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _netns_usable(), reason="needs root and a working `ip netns` (iproute2)"
)


@dataclass
class Host:
    namespace: str
    link: str  # the host-side end of its veth pair, in the test's namespace
    address: str  # where Redis is reached from inside the namespace

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.link, "up")


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    tag = os.getpid() % 10000
    made: list[Host] = []
    try:
        for i in range(3):
            namespace, outside, inside = f"hm{tag}h{i}", f"hm{tag}o{i}", f"hm{tag}i{i}"
            subnet = f"10.{200 + i}.{tag % 250}"
            _ip("netns", "add", namespace)
            made.append(Host(namespace, outside, f"{subnet}.1"))
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", namespace)
            _ip("addr", "add", f"{subnet}.1/24", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("-n", namespace, "addr", "add", f"{subnet}.2/24", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        yield made
    finally:
        for host in made:
            subprocess.run(["ip", "link", "del", host.link], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, check=False)


def executions(path: Path) -> list[tuple[str, int, float]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            rows.append((parts[0], int(parts[1]), float(parts[2])))
    return rows


# Three worker processes in three namespaces, one partitioned for at least 6 s (twice the
# heartbeat TTL of 3 s, so its jobs are recovered during the cut): start-up, the cut and two
# batches take 15-40 s on a loaded 2-core machine.
@pytest.mark.timeout(150)
def test_a_partitioned_host_s_jobs_are_recovered_by_the_others_and_it_rejoins(
    hosts: list[Host], tmp_path: Path
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(find_binary()), "--port", str(port), "--bind", *(h.address for h in hosts),
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path),
         "--protected-mode", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    local = redis.Redis("127.0.0.1", port)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_until(lambda: bool(local.ping()), 20, "the server")
        (tmp_path / "scale_jobs.py").write_text(JOBS)
        runs = tmp_path / "executions.txt"
        for i, host in enumerate(hosts):
            env = fast_env(f"redis://{host.address}:{port}/0", SCALE_EXECUTIONS=str(runs))
            env["HENCHMAN_REDIS_TIMEOUT"] = "1"
            with open(tmp_path / f"worker{i}.log", "ab") as out:
                workers.append(
                    subprocess.Popen(
                        [
                            "ip",
                            "netns",
                            "exec",
                            host.namespace,
                            henchman_bin(),
                            "run",
                            "-r",
                            "scale_jobs",
                            "-c",
                            "3",
                        ],
                        cwd=tmp_path,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_until(lambda: local.scard(keys.PROCESSES) == 3, 60, "three workers registered")
        victim = workers[0].pid  # `ip netns exec` execs henchman: same pid
        identity = next(
            p.decode() for p in local.smembers(keys.PROCESSES) if f":{victim}:" in p.decode()
        )
        app = Henchman(Settings(redis_url=f"redis://127.0.0.1:{port}/0", reliable_push=False))
        first = app.client.push_bulk("scale_jobs.work", [[0.05]] * 300, OPTIONS)
        wait_until(lambda: len(executions(runs)) >= 60, 60, "60 jobs done")
        hosts[0].cut()
        cut_at = time.time()
        # What the cut host holds, read after the cut: it can no longer change it.
        held = set(local.lrange(keys.working(identity, "default"), 0, -1))
        held_jids = {orjson.loads(h)["jid"] for h in held}
        wait_until(lambda: not local.exists(keys.process(identity)), 30, "its heartbeat expired")
        wait_until(
            lambda: {j for j, _, _ in executions(runs)} >= set(first), 60, "the first batch done"
        )
        wait_until(
            lambda: held_jids <= {j for j, pid, _ in executions(runs) if pid != victim},
            30,
            "its jobs recovered by the other hosts",
        )
        while time.time() - cut_at < 6:  # a partition clearly longer than the 3 s heartbeat TTL
            time.sleep(0.1)
        partitioned = time.time() - cut_at
        hosts[0].restore()
        wait_until(lambda: local.exists(keys.process(identity)), 30, "the host rejoining")
        restored_at = time.time()
        # long enough to outlast the rejoining worker's fetch backoff (at most 5 s)
        second = app.client.push_bulk("scale_jobs.work", [[0.3]] * 150, OPTIONS)
        app.close()
        wait_until(
            lambda: {j for j, _, _ in executions(runs)} >= {*first, *second},
            60,
            "the second batch done",
        )
    finally:
        for worker in workers:
            stop(worker)
        local.close()
        server.kill()
        server.wait()
    rows = executions(runs)
    jids = [j for j, _, _ in rows]
    duplicates = {j for j in jids if jids.count(j) > 1}
    print(
        f"partition of {partitioned:.1f} s: {len(set(jids))} executed of "
        f"{len(first) + len(second)}, {len(duplicates)} duplicate(s), "
        f"{len(held)} held by the cut host"
    )
    assert not {*first, *second} - set(jids), "a job was lost"
    assert duplicates <= held_jids, "duplicates only among the jobs the cut host was running"
    assert any(pid == victim and at > restored_at for _, pid, at in rows), "the host rejoined"
