"""Capsule overhead: a no-op drain with this checkout's worker against ``main``'s, and two capsules
in one process against one, as ratios from one run.

    .venv/bin/python bench/capsules.py                  # 5 rounds of 10,000 jobs, a few minutes
    .venv/bin/python bench/capsules.py --n 4000 --rounds 3
    .venv/bin/python bench/capsules.py --base-ref v0.1   # compare with another git ref

Scenarios, one worker process each (``-l warning``), run in interleaved rounds so that a change
in the machine's load hits every scenario alike; each scenario's figure is its median:

  base      the ``--base-ref`` (default ``main``) code: ``git archive`` of its ``src/`` into a
            temporary directory, put first on ``PYTHONPATH`` (the editable install is a plain
            path entry, so the archived package wins); ``-c 10``, queue ``bench``;
  one       this checkout, the same command: one (the default) capsule;
  two       this checkout, ``-c 5 --capsule b2:bench2:5``: two capsules of 5 threads, the jobs
            split evenly between their queues.

Drain rate = (done - 1) / (last start - first start), from the timestamps the no-op jobs write
(``bench_jobs.record``), so start-up is excluded. The targets: one / base >= 0.97, two / one
>= 0.95. On a shared machine the spread of the rounds is printed too: when it is wider than the
difference being measured, say so rather than trust the ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_jobs  # noqa: E402  (needs HERE on sys.path)
from enqueue_drain import server  # noqa: E402

import henchman  # noqa: E402
from henchman import keys  # noqa: E402
from henchman.config import Settings  # noqa: E402

ENTRY = "from henchman.cli.main import entry; entry()"
DRAIN_TIMEOUT = 300.0
SCENARIOS = {
    "base": ["-c", "10"],
    "one": ["-c", "10"],
    "two": ["-c", "5", "--capsule", "b2:bench2:5"],
    "two10": ["-c", "10", "--capsule", "b2:bench2:10"],
}


def export_source(ref: str, into: Path) -> Path:
    """``src/`` of git ``ref`` (no checkout, no worktree: ``git archive``) under ``into``."""
    root = HERE.parent
    data = subprocess.run(["git", "archive", ref, "src"], cwd=root, check=True,
                          capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


def fill(n: int, split: bool) -> None:
    """Queue ``n`` no-op jobs on ``bench`` (or half on ``bench``, half on ``bench2``)."""
    args = [[0.0] for _ in range(n)]
    if not split:
        bench_jobs.noop.perform_bulk(args)
        return
    half = n // 2
    bench_jobs.noop.perform_bulk(args[:half])
    bench_jobs.noop.set(queue="bench2").perform_bulk(args[half:])


def drain(client: redis.Redis, url: str, n: int, extra: Sequence[str], pythonpath: str | None,
          log: Path) -> tuple[float, float]:  # fmt: skip
    """Run one worker until ``n`` jobs ran: (jobs per wall second, jobs per worker CPU second),
    both from the first job to the last (start-up excluded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENCHMAN_")}
    env.update(REDIS_URL=url, BENCH_REDIS_URL=url)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-c", ENTRY, "run", "-r", "bench_jobs", "-q", "bench", "-l",
               "warning", "-P", "1", *extra]  # fmt: skip
    with log.open("ab") as out:
        worker = subprocess.Popen(command, cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    start: tuple[int, float] | None = None
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while (done := int(client.get(bench_jobs.K_DONE) or 0)) < n:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker failed or stalled; see {log}")
            if start is None and done:
                start = (done, cpu_seconds(worker.pid))
            time.sleep(0.02)
        end = (done, cpu_seconds(worker.pid))
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    first = float(client.get(bench_jobs.K_FIRST) or 0)
    last = float(client.get(bench_jobs.K_LAST) or 0)
    assert start is not None
    return (n - 1) / (last - first), (end[0] - start[0]) / (end[1] - start[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description="Capsule overhead as ratios from one run.")
    parser.add_argument("--n", type=int, default=10_000, help="jobs per drain (default 10000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--base-ref", default="main", help="git ref to compare with")
    parser.add_argument("--redis-url", help="an EMPTY database instead of an embedded server")
    options = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    per_cpu: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory() as tmp, server(options.redis_url) as url:
        base_src = str(export_source(options.base_ref, Path(tmp)))
        log = Path(tmp) / "worker.log"
        app = henchman.default_app()
        app.configure(Settings(redis_url=url))
        client = redis.Redis.from_url(url)
        for round_no in range(options.rounds):
            order = list(SCENARIOS)
            if round_no % 2:
                order.reverse()  # no scenario always runs right after the same one
            for name in order:
                client.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE,
                              keys.queue("bench"), keys.queue("bench2"))  # fmt: skip
                fill(options.n, split=name.startswith("two"))
                rate, cpu_rate = drain(client, url, options.n, SCENARIOS[name],
                                       base_src if name == "base" else None, log)  # fmt: skip
                rates[name].append(rate)
                per_cpu[name].append(cpu_rate)
                print(f"round {round_no + 1} {name:<5} {rate:>9,.0f} jobs/s "
                      f"{cpu_rate:>9,.0f} jobs/CPU-s", flush=True)  # fmt: skip
        app.close()
        client.close()
    report(options, rates, per_cpu)


def report(options: argparse.Namespace, rates: dict[str, list[float]],
           per_cpu: dict[str, list[float]]) -> None:  # fmt: skip
    wall = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in per_cpu.items()}
    print(f"\nhenchman {henchman.__version__} vs {options.base_ref}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, n={options.n:,}, "
          f"{options.rounds} rounds")  # fmt: skip
    print(f"| {'scenario':<34} | {'jobs/s median':>13} | {'min':>7} | {'max':>7} "
          f"| {'jobs/CPU-s median':>17} | {'min':>7} | {'max':>7} |")  # fmt: skip
    print(f"|{'-' * 36}|{'-' * 15}|{'-' * 9}|{'-' * 9}|{'-' * 19}|{'-' * 9}|{'-' * 9}|")
    labels = {"base": f"{options.base_ref}: 1 capsule, -c 10", "one": "this: 1 capsule, -c 10",
              "two": "this: 2 capsules, 5 + 5 threads",
              "two10": "this: 2 capsules, 10 + 10 threads"}  # fmt: skip
    for name, values in rates.items():
        print(f"| {labels[name]:<34} | {wall[name]:>13,.0f} | {min(values):>7,.0f} | "
              f"{max(values):>7,.0f} | {cpu[name]:>17,.0f} | {min(per_cpu[name]):>7,.0f} "
              f"| {max(per_cpu[name]):>7,.0f} |")  # fmt: skip
    print("\nratios of medians            wall    worker CPU")
    for label, a, b, target in (
        (f"one capsule / {options.base_ref}", "one", "base", 0.97),
        ("two capsules 5+5 / one", "two", "one", 0.95),
        ("two capsules 10+10 / one", "two10", "one", 0.95),
    ):
        print(f"{label:<28} {wall[a] / wall[b]:>6.3f}    {cpu[a] / cpu[b]:>6.3f}   "
              f"(target >= {target})")


if __name__ == "__main__":
    main()
