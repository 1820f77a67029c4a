"""Worker instructions per job, one server against cluster mode, counted by callgrind.

    .venv/bin/python bench/cluster_instructions.py            # ~4 minutes (needs valgrind)
    .venv/bin/python bench/cluster_instructions.py --small 300 --large 1200   # quicker

Why: on a shared 2-core machine one drain's rate moves by 10 % or more from run to run, and the
workers' CPU per job by as much (``bench/cluster.py``), more than the cost of the cluster code
itself. The number of instructions a worker executes per job does not move: run under valgrind's
callgrind it is the same from one run to the next to a fraction of a percent. So this counts it,
for the same no-op jobs (``bench_jobs.noop``) on the same 12 queues, against one server, against
a 3-master cluster with the queues spread over the masters, and against the same cluster with
every queue on one master. What it cannot show is what the machine adds on top (waiting for the
CPU and the GIL, cache misses, wake-ups), which ``bench/cluster.py`` measures, noise and all.

How: one worker process (``-c 10``, placement off) drains ``--small`` jobs, then, started anew,
``--large`` jobs, each time under callgrind from start to stop; instructions per job are
(large total - small total) / (large - small), so start-up and stop cancel out. Callgrind runs the
worker about 50 times slower, so the background loops (heartbeat, scheduled-job poller, orphan
check) are slowed down to once a minute or less here: at their usual pace they would be counted
fifty times over, per job. Counts are of user-space instructions of every thread of the worker;
the Redis servers and the kernel are not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.support.cluster: the test suite's cluster topology
import bench_jobs  # noqa: E402  (needs HERE on sys.path)

from cluster import henchman_command, queue_names, started_servers  # noqa: E402
from henchman.app import Henchman  # noqa: E402
from henchman.config import Settings  # noqa: E402

#: The background loops, slowed down so that callgrind's slowness does not count them per job.
QUIET_LOOPS = {
    "HENCHMAN_HEARTBEAT_INTERVAL": "60",
    "HENCHMAN_PROCESS_TTL": "600",
    "HENCHMAN_POLL_INTERVAL_AVERAGE": "600",
    "HENCHMAN_ORPHAN_CHECK_INTERVAL": "600",
}
DRAIN_TIMEOUT = 1200.0


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    queues: list[str]


def instructions(target: Target, n: int, bench_url: str, out: Path) -> int:
    """Push ``n`` jobs, drain them with one worker under callgrind; its instruction count."""
    bench = redis.Redis.from_url(bench_url)
    bench.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE)
    app = Henchman(Settings(redis_url=target.url, reliable_push=False))
    per_queue = n // len(target.queues)
    for queue in target.queues:
        app.client.push_bulk("bench_jobs.noop", [[0.0] for _ in range(per_queue)], {"queue": queue})
    app.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HENCHMAN_", "REDIS_URL"))}
    env.update(QUIET_LOOPS, REDIS_URL=target.url, BENCH_REDIS_URL=bench_url)
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        *henchman_command(),
        "run",
        "-P",
        "1",
        "-r",
        "bench_jobs",
        "-l",
        "warning",
        "-c",
        "10",
        "--cpu-affinity",
        "off",
        *(arg for queue in target.queues for arg in ("-q", f"{queue},1")),
    ]
    with (out.parent / f"{out.name}.log").open("ab") as log:
        worker = subprocess.Popen(command, cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while int(bench.get(bench_jobs.K_DONE) or 0) < per_queue * len(target.queues):
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited; see {out}.log")
            if time.monotonic() > deadline:
                raise SystemExit(f"the drain did not finish; see {out}.log")
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(300)
        bench.close()
    return summary(out)


def summary(path: Path) -> int:
    """The total instruction count of a callgrind output file (its ``summary:`` line)."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no summary in {path}")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=600, help="jobs of the short drain")
    parser.add_argument("--large", type=int, default=3000, help="jobs of the long drain")
    parser.add_argument("--queues", type=int, default=12, help="queues (default 12)")
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (callgrind) on the PATH")
    sizes = (options.small, options.large)
    counts: dict[str, list[int]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="henchman-instructions-") as tmp,
        started_servers(Path(tmp)) as servers,
    ):
        url = servers.topology.url()
        targets = [
            Target("one server", servers.single_url, queue_names(options.queues, False)),
            Target("cluster, queues spread", url, queue_names(options.queues, False)),
            Target("cluster, one master", url, queue_names(options.queues, True)),
        ]
        for index, target in enumerate(targets):
            for n in sizes:
                out = Path(tmp) / f"callgrind.{index}.{n}"
                total = instructions(target, n, servers.bench_url, out)
                counts.setdefault(target.name, []).append(total)
                print(f"  {target.name}: {n:,} jobs, {total:,} instructions", flush=True)
                servers.flush()
    report(options, counts)


def report(options: argparse.Namespace, counts: dict[str, list[int]]) -> None:
    jobs = options.large - options.small
    per_job = {name: (large - small) / jobs for name, (small, large) in counts.items()}
    base = per_job["one server"]
    print(
        f"\nhenchman worker instructions per job (callgrind, 1 worker x 10 threads, "
        f"{options.queues} queues, {options.small:,} and {options.large:,} jobs), "
        f"Python {platform.python_version()}"
    )
    print("| target                 | instructions per job | against one server |")
    print("|------------------------|----------------------|--------------------|")
    for name, value in per_job.items():
        print(f"| {name:<22} | {value:>20,.0f} | {value / base:>18.3f} |")


if __name__ == "__main__":
    main()
