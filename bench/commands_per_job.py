"""Which Redis commands the server sees per job while one default worker drains no-op jobs.

    .venv/bin/python bench/commands_per_job.py               # 10,000 jobs
    .venv/bin/python bench/commands_per_job.py --n 20000 --worker-arg=--concurrency=5

Reads ``INFO commandstats`` before and after one ``henchman run -r bench_jobs -q bench`` drain
(start-up and stop included, so a fixed handful of commands is spread over the jobs) and prints
every command's calls per job. The no-op job's own pipeline (``SET``, ``SET``, ``INCRBY``: three
calls per job) is listed apart. Commands a Lua script runs count under their own names as well
as under ``EVALSHA`` (the server counts both); ``client commands`` counts what clients sent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_jobs  # noqa: E402  (needs HERE on sys.path)
from capsules import drain, fill  # noqa: E402
from enqueue_drain import server  # noqa: E402

import henchman  # noqa: E402
from henchman import keys  # noqa: E402
from henchman.config import Settings  # noqa: E402

#: The bench job's own commands per job (bench_jobs.record without a latency push).
JOB_OWN = {"set": 2, "incrby": 1}  # redis-py sends INCR as INCRBY key 1
#: Commands issued from inside Lua scripts (the server counts them beside the EVALSHA).
SCRIPTED = {"lrem", "rpop", "lpush"}


def calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command so far, from ``INFO commandstats``."""
    info = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(stat["calls"]) for name, stat in info.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Redis commands per job of a drain.")
    parser.add_argument("--n", type=int, default=10_000, help="jobs (default 10000)")
    parser.add_argument("--worker-arg", action="append", default=[], help="extra worker option")
    parser.add_argument("--redis-url", help="an EMPTY database instead of an embedded server")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, server(options.redis_url) as url:
        app = henchman.default_app()
        app.configure(Settings(redis_url=url))
        client = redis.Redis.from_url(url)
        client.delete(bench_jobs.K_FIRST, bench_jobs.K_LAST, bench_jobs.K_DONE,
                      keys.queue("bench"))  # fmt: skip
        fill(options.n, split=False)
        before = calls(client)
        rate, cpu_rate = drain(client, url, options.n, options.worker_arg, None,
                               Path(tmp) / "worker.log")  # fmt: skip
        after = calls(client)
        app.close()
        client.close()
    # the harness's own polling (GET of the counter, INFO) is not the worker's
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta["info"] = delta.get("info", 0) - 1
    n = options.n
    print(f"{n:,} jobs, {rate:,.0f} jobs/s, {1e6 / cpu_rate:.0f} us worker CPU/job")
    print(f"| {'command':<22} | {'calls':>8} | {'per job':>8} |")
    print(f"|{'-' * 24}|{'-' * 10}|{'-' * 10}|")
    total = scripted = 0
    for name, count in sorted(delta.items(), key=lambda kv: -kv[1]):
        if count <= 0:
            continue
        own = JOB_OWN.get(name, 0) * n
        mine = count - own
        note = " (job's own excluded)" if own else (" (inside scripts)" if name in SCRIPTED else "")
        if name == "get":
            note = " (mostly the harness polling)"
        print(f"| {name + note:<22} | {mine:>8,} | {mine / n:>8.3f} |")
        if name in SCRIPTED:
            scripted += mine
        elif name != "get":
            total += mine
    print(f"client commands per job (job's own, harness GETs and scripted calls excluded): "
          f"{total / n:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
