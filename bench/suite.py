"""henchman's own benchmark table: one embedded server, each scenario with
its target, in about two minutes.

    .venv/bin/python bench/suite.py            # all scenarios
    .venv/bin/python bench/suite.py --n 20000 --only drain,p2

Scenarios: drain of N no-op jobs with 1 process and with -P 2; reliable fetch vs a plain BRPOP
fetch (same worker, BENCH_BASIC_FETCH=1 swaps the fetcher); I/O-bound 2,000 jobs sleeping 50 ms
with -c 50 threads and with async concurrency 500; perform_bulk of 100,000 jobs. Each drain is
timed from the first job's start to the last job's start, as bench/peers/run.py does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def henchman_bin() -> str:
    return str(Path(sys.executable).with_name("henchman"))


def drain(
    url: str,
    client: redis.Redis,
    push: Callable[[], None],
    n: int,
    *args: str,
    env: dict[str, str] | None = None,
) -> float:
    """Push with ``push``, start a worker with ``args``, return jobs/s first→last."""
    client.flushdb()
    push()
    full_env = {
        **os.environ,
        "REDIS_URL": url,
        "BENCH_REDIS_URL": url,
        "BENCH_N": str(n),
        **(env or {}),
    }
    with open(HERE / "suite-worker.log", "ab") as log:
        worker = subprocess.Popen(
            [henchman_bin(), "run", "-r", "suite_jobs", "-l", "warning", "-P", "1", *args],
            cwd=HERE,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while int(client.get("bench:done") or 0) < n:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"worker did not finish {n} jobs (see bench/suite-worker.log)")
            time.sleep(0.05)
        first, last = float(client.get("bench:first")), float(client.get("bench:last"))
        return n / max(last - first, 1e-9)
    finally:
        worker.terminate()
        worker.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="no-op jobs per drain")
    parser.add_argument("--only", default="", help="comma list: drain,p2,reliable,io,bulk")
    options = parser.parse_args()
    only = set(filter(None, options.only.split(",")))

    def want(name: str) -> bool:
        return not only or name in only

    from henchman.redis.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="henchman-bench-") as home:
        server = EmbeddedServer(Path(home))
        url = server.ensure_running()
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"] = url
        client = redis.Redis.from_url(url)
        import suite_jobs

        n = options.n
        push_noop = lambda: suite_jobs.noop.perform_bulk([[0.0]] * n)  # noqa: E731
        rows: list[tuple[str, str, str, bool | None]] = []
        try:
            if want("drain") or want("p2") or want("reliable"):
                one = drain(url, client, push_noop, n, "-q", "bench")
                rows.append((f"drain {n:,} no-op, 1 process", f"{one:,.0f} jobs/s", "", None))
            if want("p2"):
                two = drain(url, client, push_noop, n, "-q", "bench", "-P", "2")
                rows.append(
                    (
                        "drain, -P 2",
                        f"{two:,.0f} jobs/s ({two / one:.2f}x)",
                        ">= 1.4x",
                        two / one >= 1.4,
                    )
                )
            if want("reliable"):
                basic = drain(
                    url, client, push_noop, n, "-q", "bench", env={"BENCH_BASIC_FETCH": "1"}
                )
                rows.append(("plain BRPOP fetch (not reliable)", f"{basic:,.0f} jobs/s", "", None))
                rows.append(
                    ("reliable / plain", f"{one / basic:.2f}x", ">= 0.9x", one / basic >= 0.9)
                )
            if want("io"):
                sync = drain(
                    url,
                    client,
                    lambda: suite_jobs.sleepy.perform_bulk([[]] * 2000),
                    2000,
                    "-q",
                    "io",
                    "-c",
                    "50",
                    env={"BENCH_N": "2000"},
                )
                rows.append(
                    (
                        "2,000 x sleep 50 ms, -c 50 threads",
                        f"{sync:,.0f} jobs/s",
                        ">= 800",
                        sync >= 800,
                    )
                )
                aio = drain(
                    url,
                    client,
                    lambda: suite_jobs.asleepy.perform_bulk([[]] * 2000),
                    2000,
                    "-q",
                    "aio",
                    "--async-concurrency",
                    "500",
                    env={"BENCH_N": "2000"},
                )
                rows.append(
                    (
                        "2,000 x async sleep 50 ms, async 500",
                        f"{aio:,.0f} jobs/s",
                        ">= 8,000",
                        aio >= 8000,
                    )
                )
            if want("bulk"):
                client.flushdb()
                args = [[0.0]] * 100_000
                started = time.perf_counter()
                suite_jobs.noop.perform_bulk(args)
                rate = 100_000 / (time.perf_counter() - started)
                rows.append(
                    (
                        "perform_bulk 100,000 jobs",
                        f"{rate:,.0f} jobs/s",
                        ">= 100,000",
                        rate >= 100_000,
                    )
                )
        finally:
            client.flushdb()
            client.close()
            server.stop()
    print("| scenario | result | target | met |\n|---|---|---|---|")
    for name, result, target, met in rows:
        verdict = "" if met is None else ("yes" if met else "NO")
        print(f"| {name} | {result} | {target} | {verdict} |")


if __name__ == "__main__":
    main()
