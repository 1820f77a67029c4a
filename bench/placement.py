"""CPU placement suite: does a ``cpu_affinity`` setting hurt real work? (about 15 minutes)

    .venv/bin/python bench/placement.py                   # every workload, 3 repetitions
    .venv/bin/python bench/placement.py --reps 1 --only noop,sha256

For each workload, one ``henchman run -c 4 -P 1`` worker drains the same jobs with its default
placement (``auto``: threads on one CPU while jobs are short) and with ``--cpu-affinity off``;
repetitions are interleaved and rotated (default, off; off, default; ...) so drift of the
machine's speed falls on both settings alike. The time of a workload is from the first job's
start to the last job's end, from the times the jobs record themselves (worker start-up
excluded); for bursts, the median time from each burst's push to its last job's end. The table
gives each setting's median time divided by ``off``'s: above 1.00 is slower than leaving
placement to the kernel.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SETTINGS = ("default", "off")
#: Outside load for the last workload: busy this share of every 10 ms, in one process.
OUTSIDE_DUTY = 0.6


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    #: Pushes the jobs; returns how many will run.
    push: Callable[[Path], int]
    bursts: int = 0
    outside_load: bool = False


def _push(job: str, count: int, *args: object) -> Callable[[Path], int]:
    def push(_: Path) -> int:
        import placement_jobs

        getattr(placement_jobs, job).perform_bulk([list(args)] * count)
        return count

    return push


def _push_child(count: int) -> Callable[[Path], int]:
    def push(workdir: Path) -> int:
        import placement_jobs

        placement_jobs.child_sha256sum.perform_bulk([[str(workdir / "64MiB")]] * count)
        return count

    return push


def _push_mixed(rounds: int, short: int) -> Callable[[Path], int]:
    """``rounds`` times: ``short`` no-op jobs, then one hashing job (queued in that order)."""

    def push(_: Path) -> int:
        import placement_jobs

        for _ in range(rounds):
            placement_jobs.noop.perform_bulk([[]] * short)
            placement_jobs.sha256.perform_async(5)
        return rounds * (short + 1)

    return push


WORKLOADS = (
    Workload("noop", "no-op drain, 20,000 jobs", _push("noop", 20_000)),
    Workload("python", "pure-Python 2 ms jobs (1,000)", _push("python_2ms", 1000)),
    Workload("sleep", "`time.sleep(0.01)` jobs (1,000)", _push("sleep_10ms", 1000)),
    Workload("sha256", "sha256 of 4 MB × 5 per job (40 jobs)", _push("sha256", 40, 5)),
    Workload("zlib", "zlib.compress of 4 MB (20 jobs)", _push("compress", 20)),
    Workload("child", "`sha256sum` of 64 MiB in a child process (10 jobs)", _push_child(10)),
    Workload("bursts", "bursts of 40 hashing jobs every 15 s (time per burst)",
             _push("sha256", 40, 5), bursts=3),
    Workload("loaded", "sha256 jobs (as above) beside a process using 0.6 cores",
             _push("sha256", 40, 5), outside_load=True),
    Workload("mixed", "mixed: 40 × (500 no-op jobs, then one sha256 job)", _push_mixed(40, 500)),
)  # fmt: skip


def outside_load() -> subprocess.Popen[bytes]:
    """A process that keeps about ``OUTSIDE_DUTY`` of one core busy (like a neighbour)."""
    code = (
        "import time\n"
        f"while True:\n    end = time.perf_counter() + {OUTSIDE_DUTY * 0.01}\n"
        "    while time.perf_counter() < end: pass\n"
        f"    time.sleep({(1 - OUTSIDE_DUTY) * 0.01})\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def spans(client: redis.Redis) -> list[tuple[float, float]]:
    out = []
    for item in client.lrange("bench:spans", 0, -1):
        start, end = item.split()
        out.append((float(start), float(end)))
    return out


def wait_done(client: redis.Redis, count: int, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    while int(client.get("bench:done") or 0) < count:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not finish {count} jobs (see bench/placement.log)")
        time.sleep(0.02)


def measure(
    workload: Workload, setting: str, url: str, client: redis.Redis, workdir: Path
) -> float:
    """Seconds the workload took under ``setting`` (see the module docstring)."""
    client.flushdb()
    env = {**os.environ, "REDIS_URL": url, "BENCH_REDIS_URL": url}
    flags = [] if setting == "default" else ["--cpu-affinity", setting]
    neighbour = outside_load() if workload.outside_load else None
    with open(HERE / "placement.log", "ab") as log:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("henchman")), "run", "-r", "placement_jobs",
             "-q", "placement", "-c", "4", "-P", "1", "-l", "warning", *flags],
            cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        if not workload.bursts:
            count = workload.push(workdir)
            wait_done(client, count, worker)
            found = spans(client)
            return max(e for _, e in found) - min(s for s, _ in found)
        # Bursts: the worker is up and idle first, as in production between bursts.
        time.sleep(2.0)
        times, total, pushed = [], 0, 0.0
        for burst in range(workload.bursts):
            if burst:
                time.sleep(max(0.0, pushed + 15.0 - time.time()))
            client.delete("bench:spans")
            pushed = time.time()
            total += workload.push(workdir)
            wait_done(client, total, worker)
            times.append(max(e for _, e in spans(client)) - pushed)
        return statistics.median(times)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    names = ",".join(w.name for w in WORKLOADS)
    parser.add_argument("--only", default="", help=f"comma list of: {names}")
    options = parser.parse_args()
    only = set(filter(None, options.only.split(",")))
    unknown = only - {w.name for w in WORKLOADS}
    if unknown:
        parser.error(f"unknown workload {', '.join(sorted(unknown))}")
    chosen = [w for w in WORKLOADS if not only or w.name in only]

    from henchman.redis.embedded import EmbeddedServer

    def interrupted(signum: int, _: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so the finally blocks stop everything

    signal.signal(signal.SIGTERM, interrupted)

    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="henchman-placement-") as home:
        workdir = Path(home)
        (workdir / "64MiB").write_bytes(os.urandom(64 << 20))
        server = EmbeddedServer(workdir / "server")
        url = server.ensure_running()
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"] = url
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            for workload in chosen:
                for rep in range(options.reps):
                    # Each repetition starts with another setting, so none always goes first.
                    turn = rep % len(SETTINGS)
                    for setting in SETTINGS[turn:] + SETTINGS[:turn]:
                        seconds = measure(workload, setting, url, client, workdir)
                        results.setdefault((workload.name, setting), []).append(seconds)
                        print(f"{workload.name} rep {rep + 1} {setting}: {seconds:.3f} s",
                              file=sys.stderr, flush=True)  # fmt: skip
        finally:
            client.flushdb()
            client.close()
            server.stop()
    print(f"Medians of {options.reps} interleaved repetitions, `henchman run -c 4 -P 1`; "
          "time relative to `--cpu-affinity off` (above 1.00 = slower)\n")  # fmt: skip
    print("| workload | off (s) | default (auto) / off |\n|---|---|---|")
    for workload in chosen:
        off = statistics.median(results[(workload.name, "off")])
        ratio = statistics.median(results[(workload.name, "default")]) / off
        print(f"| {workload.label} | {off:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
