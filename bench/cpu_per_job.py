"""Worker CPU per job: this checkout's default (unpinned) and pinned worker against a base ref.

    .venv/bin/python bench/cpu_per_job.py                      # 3 rounds of 20,000 jobs
    .venv/bin/python bench/cpu_per_job.py --n 10000 --rounds 5
    .venv/bin/python bench/cpu_per_job.py --base-ref main --only base,default

On a machine shared with other work the wall rate of one drain swings widely; the CPU the worker
process spends per job (user + system, all its threads, from ``/proc``) moves far less, so it is
the figure to develop against. Ruby Sidekiq spends about 210 us per job on the same no-op job on
the 2-CPU benchmark machine; 1.3x its throughput needs about 160 us per job or less.

Scenarios, one ``henchman run -r bench_jobs -q bench -l warning`` process each on ``n`` queued
no-op jobs (``bench_jobs.noop``: one pipelined Redis round trip of its own), interleaved rounds:

  base         the ``--base-ref`` code (``git archive`` of its ``src/`` first on
               ``PYTHONPATH``), every default (10 threads, ``cpu_affinity`` off);
  default      this checkout, every default;
  base-pinned  the base code with ``--cpu-affinity auto`` (threads kept on one CPU);
  pinned       this checkout, ``--cpu-affinity auto``.

Figures are taken from the first job's start to the last's (start-up excluded): jobs per wall
second and microseconds of worker CPU per job; each scenario's median and spread are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_jobs  # noqa: E402  (needs HERE on sys.path)
from capsules import drain, export_source, fill  # noqa: E402
from enqueue_drain import server  # noqa: E402

import henchman  # noqa: E402
from henchman import keys  # noqa: E402
from henchman.config import Settings  # noqa: E402

SCENARIOS = {
    "base": [],
    "default": [],
    "base-pinned": ["--cpu-affinity", "auto"],
    "pinned": ["--cpu-affinity", "auto"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description="Worker CPU per job, interleaved rounds.")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per drain (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--base-ref", default="main", help="git ref to compare with")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument("--concurrency", "-c", type=int, default=10, help="threads (default 10)")
    parser.add_argument("--redis-url", help="an EMPTY database instead of an embedded server")
    options = parser.parse_args()
    names = [n.strip() for n in options.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    rates: dict[str, list[float]] = {name: [] for name in names}
    micros: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp, server(options.redis_url) as url:
        base_src = (
            str(export_source(options.base_ref, Path(tmp)))
            if any(n.startswith("base") for n in names)
            else None
        )
        log = Path(tmp) / "worker.log"
        app = henchman.default_app()
        app.configure(Settings(redis_url=url))
        client = redis.Redis.from_url(url)
        for round_no in range(options.rounds):
            order = list(names)
            if round_no % 2:
                order.reverse()
            for name in order:
                client.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE,
                              keys.queue("bench"))  # fmt: skip
                fill(options.n, split=False)
                extra = ["-c", str(options.concurrency), *SCENARIOS[name]]
                src = base_src if name.startswith("base") else None
                rate, cpu_rate = drain(client, url, options.n, extra, src, log)
                rates[name].append(rate)
                micros[name].append(1e6 / cpu_rate)
                load = os.getloadavg()[0]
                print(f"round {round_no + 1} {name:<11} {rate:>8,.0f} jobs/s "
                      f"{1e6 / cpu_rate:>6.0f} us CPU/job  (load {load:.1f})",
                      flush=True)  # fmt: skip
        app.close()
        client.close()
    print(f"\nhenchman {henchman.__version__} vs {options.base_ref}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, n={options.n:,}, "
          f"-c {options.concurrency}, {options.rounds} rounds")  # fmt: skip
    print(f"| {'scenario':<11} | {'jobs/s median':>13} | {'min':>7} | {'max':>7} "
          f"| {'us CPU/job median':>17} | {'min':>5} | {'max':>5} |")  # fmt: skip
    print(f"|{'-' * 13}|{'-' * 15}|{'-' * 9}|{'-' * 9}|{'-' * 19}|{'-' * 7}|{'-' * 7}|")
    for name in names:
        print(f"| {name:<11} | {statistics.median(rates[name]):>13,.0f} | "
              f"{min(rates[name]):>7,.0f} | {max(rates[name]):>7,.0f} | "
              f"{statistics.median(micros[name]):>17.0f} | {min(micros[name]):>5.0f} | "
              f"{max(micros[name]):>5.0f} |")  # fmt: skip
    for name, base in (("default", "base"), ("pinned", "base-pinned")):
        if name in names and base in names:
            ratio = statistics.median(micros[name]) / statistics.median(micros[base])
            print(f"{name} / {base}: CPU per job {ratio:.2f}x")


if __name__ == "__main__":
    main()
