"""Local benchmark: enqueue and drain no-op jobs with henchman alone, in about a minute.

    .venv/bin/python bench/enqueue_drain.py              # 20,000 jobs, fresh embedded server
    .venv/bin/python bench/enqueue_drain.py --n 2000     # a quick smoke run
    .venv/bin/python bench/enqueue_drain.py --redis-url redis://127.0.0.1:6379/15   # an EMPTY db

Scenarios (the same as enqueue and drain of ``peers/run.py``, which compares henchman with
its peers):

  A  enqueue ``n`` jobs one by one with ``perform_async`` from this process;
  A' enqueue ``n`` jobs with ``perform_bulk`` (1,000 per round trip); these stay queued;
  B  start one ``henchman run -r bench_jobs -q bench -l warning`` process on the ``n`` queued jobs;
     drain rate = (done - 1) / (last start - first start), from timestamps the jobs write
     themselves (``bench_jobs.record``), so worker start-up is excluded (it is shown apart).

Without ``--redis-url`` an embedded Valkey server is started in a temporary HENCHMAN_HOME and
stopped at the end. With ``--redis-url`` the database must be empty (the script refuses to run
otherwise, so it can never delete anyone's data); it is flushed at the end.
Figures depend on the machine and its load: compare runs made one after another, not across days.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_jobs  # noqa: E402  (needs HERE on sys.path)

import henchman  # noqa: E402
from henchman import keys  # noqa: E402
from henchman.config import Settings  # noqa: E402
from henchman.redis.embedded import EmbeddedServer  # noqa: E402

QUEUE = "bench"
DRAIN_TIMEOUT = 300.0
STALL_SECONDS = 30.0


@contextmanager
def server(url: str | None) -> Iterator[str]:
    """The URL of an empty database: the given one, or a fresh embedded server's."""
    if url is not None:
        client = redis.Redis.from_url(url)
        if client.dbsize():
            raise SystemExit(f"refusing to run: the database at {url} is not empty")
        try:
            yield url
        finally:
            client.flushdb()
            client.close()
        return
    home = Path(tempfile.mkdtemp(prefix="henchman-bench-"))
    embedded = EmbeddedServer(home)
    try:
        yield embedded.ensure_running()
    finally:
        embedded.stop()
        shutil.rmtree(home, ignore_errors=True)


def henchman_command() -> list[str]:
    script = Path(sys.executable).with_name("henchman")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from henchman.cli.main import entry; entry()"]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def enqueue_one_by_one(n: int) -> float:
    push = bench_jobs.noop.perform_async
    return timed(lambda: [push(0.0) for _ in range(n)])


def enqueue_bulk(n: int) -> float:
    args = [[0.0] for _ in range(n)]
    return timed(lambda: bench_jobs.noop.perform_bulk(args))


def drain(
    client: redis.Redis, url: str, n: int, log_path: Path, extra: Sequence[str] = ()
) -> dict[str, float]:
    """Start one worker on the queued jobs; wait until all ran; stop it. Times in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENCHMAN_")}
    env.update(REDIS_URL=url, BENCH_REDIS_URL=url)
    command = [*henchman_command(), "run", "-r", "bench_jobs", "-q", QUEUE, "-l", "warning",
               "-P", "1", *extra]
    with log_path.open("wb") as log:
        spawned = time.time()
        worker = subprocess.Popen(command, cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        last_done, last_change = 0, time.monotonic()
        while (done := int(client.get(bench_jobs.K_DONE) or 0)) < n:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited ({worker.returncode}) after {done}/{n} jobs; "
                                 f"see {log_path}")
            if done != last_done:
                last_done, last_change = done, time.monotonic()
            if time.monotonic() > deadline or time.monotonic() - last_change > STALL_SECONDS:
                raise SystemExit(f"drain stalled at {done}/{n} jobs; see {log_path}")
            time.sleep(0.05)
    finally:
        stopped = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    first = float(client.get(bench_jobs.K_FIRST) or 0)
    last = float(client.get(bench_jobs.K_LAST) or 0)
    return {
        "done": float(done), "first": first, "last": last, "startup": first - spawned,
        "stop": time.monotonic() - stopped, "returncode": float(worker.returncode),
    }


WIDTH = 48


def row(name: str, jobs: int, seconds: float, intervals: int | None = None) -> str:
    """One table line; the rate is ``intervals / seconds`` (``jobs`` unless given)."""
    count = jobs if intervals is None else intervals
    rate = f"{count / seconds:,.0f}" if seconds > 0 else "-"
    return f"| {name:<{WIDTH}} | {jobs:>7,} | {seconds:>7.3f} | {rate:>9} |"


def main() -> None:
    parser = argparse.ArgumentParser(description="Enqueue and drain no-op jobs with henchman.")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per scenario (default 20000)")
    parser.add_argument("--redis-url", help="use this (empty) database instead of an embedded "
                                            "server")
    parser.add_argument("--worker-arg", action="append", default=[], metavar="ARG",
                        help="extra `henchman run` argument for B, repeatable "
                             "(e.g. --worker-arg=--cpu-affinity --worker-arg=off)")
    options = parser.parse_args()
    n = options.n

    with server(options.redis_url) as url:
        app = henchman.default_app()
        app.configure(Settings(redis_url=url))
        client = redis.Redis.from_url(url)
        version = client.info("server")
        product = (f"Valkey {version['valkey_version']}" if "valkey_version" in version
                   else f"Redis {version['redis_version']}")
        client.ping()
        app.client.redis.ping()  # connect before timing

        a_one = enqueue_one_by_one(n)
        assert client.llen(keys.queue(QUEUE)) == n
        client.delete(keys.queue(QUEUE))
        a_bulk = enqueue_bulk(n)
        assert client.llen(keys.queue(QUEUE)) == n

        with tempfile.TemporaryDirectory() as tmp:
            log_path = Path(tmp) / "worker.log"
            result = drain(client, url, n, log_path, options.worker_arg)
            log_text = log_path.read_text(errors="replace").strip()
        drain_s = result["last"] - result["first"]
        left = client.llen(keys.queue(QUEUE))
        app.close()
        client.close()

    print(f"henchman {henchman.__version__}, Python {platform.python_version()}, {product}"
          f"{' (embedded, unix socket)' if options.redis_url is None else ''}, "
          f"{os.cpu_count()} CPUs, n={n:,}")
    print(f"| {'scenario':<{WIDTH}} | {'jobs':>7} | {'seconds':>7} | {'jobs/s':>9} |")
    print(f"|{'-' * (WIDTH + 2)}|{'-' * 9}|{'-' * 9}|{'-' * 11}|")
    print(row("A  enqueue: perform_async, one by one", n, a_one))
    print(row("A' enqueue: perform_bulk, 1,000 per round trip", n, a_bulk))
    done = int(result["done"])
    print(row("B  drain: 1 worker process, defaults", done, drain_s, done - 1))
    print(f"worker start-up to first job {result['startup']:.2f} s; stop after SIGTERM "
          f"{result['stop']:.2f} s (exit code {int(result['returncode'])}); "
          f"{left} job(s) left in the queue")
    if log_text:
        print(f"worker log (-l warning):\n{log_text}")


if __name__ == "__main__":
    main()
