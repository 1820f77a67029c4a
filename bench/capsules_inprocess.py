"""Capsule overhead inside one process: henchman's own cost per job, without a job body.

    .venv/bin/python bench/capsules_inprocess.py                 # 4 rounds of 10,000 jobs
    .venv/bin/python bench/capsules_inprocess.py --n 4000 --rounds 2 --base-ref main

Complements ``capsules.py`` (real worker processes, the shared no-op job that makes its own Redis
round trip): here a launcher runs in this process on jobs that only count themselves, so what is
measured is fetch, decode, middleware and acknowledgement, and the CPU time of the worker
(``time.process_time``, all threads) is exact rather than sampled. Each run is a fresh child
process; ``cpu_affinity`` is off: the measurement is about capsules, not CPU placement.
Scenarios, interleaved per round:

  base    one capsule, 10 threads, with the code of ``--base-ref`` (default ``main``), exported
          with ``git archive`` (no checkout) and put first on the child's ``PYTHONPATH``
  one10   one capsule, 10 threads (today's default)
  one5    one capsule, 5 threads
  two5    two capsules of 5 threads, the jobs split evenly between their queues
  two10   two capsules of 10 threads, the jobs split evenly

Figures are medians of jobs per wall second and jobs per CPU second, from the first job to the
last (start-up excluded); the wall rate of the split scenarios includes the tail where one
capsule has finished its half.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tempfile

from capsules import export_source
from enqueue_drain import server

from henchman.app import Henchman
from henchman.config import Settings
from henchman.server.launcher import Launcher

#: Scenario -> (threads of the default capsule, threads of a second capsule or 0).
SCENARIOS: dict[str, tuple[int, int]] = {
    "base": (10, 0),
    "one10": (10, 0),
    "one5": (5, 0),
    "two5": (5, 5),
    "two10": (10, 10),
}


def settings_for(url: str, scenario: str) -> Settings:
    threads, second = SCENARIOS[scenario]
    if not second:
        return Settings(redis_url=url, cpu_affinity="off", concurrency=threads)
    from henchman.config import CapsuleSpec, QueueSpec  # not in the base ref's code

    capsule = CapsuleSpec("second", (QueueSpec("second"),), second)
    return Settings(redis_url=url, cpu_affinity="off", concurrency=threads, capsules=(capsule,))


class Countdown:
    """Counts finished jobs; ``done`` is set at ``n``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.n = 0
        self.done = threading.Event()
        #: (wall, CPU) clocks at the first and at the last job.
        self.first = self.last = (0.0, 0.0)

    def reset(self, n: int) -> None:
        self.count, self.n = 0, n
        self.done.clear()

    def tick(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == 1:
                self.first = (time.perf_counter(), time.process_time())
            if self.count == self.n:
                self.last = (time.perf_counter(), time.process_time())
                self.done.set()


def run_child(url: str, n: int, scenario: str) -> None:
    """In a child process: drain ``n`` counting jobs with ``scenario``; print wall and CPU rates."""
    logging.getLogger("henchman").setLevel(logging.WARNING)
    app = Henchman(Settings(redis_url=url))
    countdown = Countdown()

    @app.job(name="noop")
    def noop() -> None:
        countdown.tick()

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    jobs: list[list[Any]] = [[] for _ in range(n)]
    if SCENARIOS[scenario][1]:
        app.client.push_bulk("noop", jobs[: n // 2], {"queue": "default", "retry": True})
        app.client.push_bulk("noop", jobs[n // 2 :], {"queue": "second", "retry": True})
    else:
        app.client.push_bulk("noop", jobs, {"queue": "default", "retry": True})
    countdown.reset(n)
    launcher = Launcher(app, settings_for(url, scenario))
    launcher.start()
    if not countdown.done.wait(300):
        raise SystemExit(f"drain stalled at {countdown.count}/{n}")
    launcher.stop()
    app.close()
    wall = countdown.last[0] - countdown.first[0]
    cpu = countdown.last[1] - countdown.first[1]
    print(f"{(n - 1) / wall} {(n - 1) / cpu}")


def run_scenario(url: str, n: int, scenario: str, base_src: str) -> tuple[float, float]:
    env = dict(os.environ)
    if scenario == "base":
        env["PYTHONPATH"] = base_src
    out = subprocess.run(
        [sys.executable, __file__, "--child", scenario, "--n", str(n), "--url", url],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return float(out[-2]), float(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="Capsule overhead inside one process.")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--base-ref", default="main")
    parser.add_argument("--only", help="comma-separated scenarios to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        run_child(options.url, options.n, options.child)
        return
    chosen = options.only.split(",") if options.only else list(SCENARIOS)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as tmp, server(None) as url:
        base_src = str(export_source(options.base_ref, Path(tmp)))
        for round_no in range(options.rounds):
            names = list(chosen)
            for name in names if round_no % 2 == 0 else reversed(names):
                wall, cpu = run_scenario(url, options.n, name, base_src)
                results[name].append((wall, cpu))
                print(f"round {round_no + 1} {name:<6} {wall:>8,.0f} jobs/s {cpu:>8,.0f} "
                      "jobs/CPU-s", flush=True)  # fmt: skip
    wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    print(f"\nn={options.n:,}, {options.rounds} rounds, base = {options.base_ref}; medians")
    for name in chosen:
        print(f"{name:<6} {wall[name]:>8,.0f} jobs/s {cpu[name]:>8,.0f} jobs/CPU-s")
    for a, b, target in (
        ("one10", "base", " (target >= 0.97)"),
        ("two10", "one10", " (target >= 0.95)"),
        ("two5", "one10", ""),
        ("two5", "one5", ""),
    ):
        if a in wall and b in wall:
            print(f"{a} / {b}: wall {wall[a] / wall[b]:.3f}, CPU {cpu[a] / cpu[b]:.3f}{target}")


if __name__ == "__main__":
    main()
