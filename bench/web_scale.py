"""How fast the Web UI's pages render at scale: 1,000,000 jobs in one queue and
100,000 in each of the retry, schedule and dead sets, on a fresh embedded server.

    .venv/bin/python bench/web_scale.py                   # full size (about a minute to fill)
    .venv/bin/python bench/web_scale.py --queue-jobs 100000 --set-jobs 10000 --repeat 5

Fills Redis with pipelined bulk writes (10,000 payloads per command), serves the UI with uvicorn
on 127.0.0.1 in this process, and times each page with an HTTP client: the median and the
slowest of ``--repeat`` requests after one warm-up. The target is under 300 ms per page; the
text-filter rows scan the whole set (ZSCAN) when the filter matches little and are reported for
information. Needs the ``web`` and ``test`` extras (uvicorn, httpx). Not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import redis
import uvicorn

from henchman import keys
from henchman.config import Settings
from henchman.redis.embedded import EmbeddedServer
from henchman.retry import compress_backtrace
from henchman.web import create_app

TARGET_MS = 300.0
CHUNK = 10_000


def payload(index: int, now: float, queue: str, **extra: object) -> bytes:
    job = {
        "class": f"app.jobs.Job{index % 20}", "args": [index, f"user-{index}@example.com"],
        "jid": f"{index:024x}", "queue": queue, "retry": True,
        "created_at": now - 3600, "enqueued_at": now - 60 + index * 1e-6,
    }  # fmt: skip
    job.update(extra)
    return orjson.dumps(job)


def fill(client: redis.Redis, queue_jobs: int, set_jobs: int, now: float) -> None:
    """Pipelined bulk writes: LPUSH/ZADD 10,000 members per command."""
    failure = {"error_class": "RuntimeError", "error_message": "boom", "retry_count": 3,
               "failed_at": now - 600, "error_backtrace": compress_backtrace(
                   [f"app/jobs.py:{n}:in perform" for n in range(20)])}  # fmt: skip
    pipe = client.pipeline(transaction=False)
    pipe.sadd(keys.QUEUES, "big", "default", "mailers")
    pipe.lpush(keys.queue("default"), payload(0, now, "default"))
    for start in range(0, queue_jobs, CHUNK):
        batch = [payload(i, now, "big") for i in range(start, min(start + CHUNK, queue_jobs))]
        pipe.lpush(keys.queue("big"), *batch)
        if len(pipe) >= 10:
            pipe.execute()
    for key, offset in ((keys.RETRY, 60.0), (keys.SCHEDULE, 3600.0), (keys.DEAD, -86400.0)):
        for start in range(0, set_jobs, CHUNK):
            members = {
                payload(i, now, "default", **failure): now + offset + i * 0.001
                for i in range(start, min(start + CHUNK, set_jobs))
            }
            pipe.zadd(key, members)  # type: ignore[arg-type]
            if len(pipe) >= 10:
                pipe.execute()
    pipe.execute()


@contextlib.contextmanager
def serving(app: object) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                           lifespan="off"))  # type: ignore[arg-type]  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def time_page(http: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    http.get(path)  # warm-up
    samples = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = http.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return statistics.median(samples), max(samples), status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-jobs", type=int, default=1_000_000)
    parser.add_argument("--set-jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    options = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="henchman-web-bench-") as home:
        server = EmbeddedServer(Path(home))
        url = server.ensure_running()
        client = redis.Redis.from_url(url)
        try:
            started = time.perf_counter()
            fill(client, options.queue_jobs, options.set_jobs, now)
            print(f"filled {options.queue_jobs:,} queued + 3 x {options.set_jobs:,} set jobs "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            retry_key = f"{now + 60.0 + 5 * 0.001!r}-{5:024x}"
            last_page = (options.queue_jobs + 24) // 25
            pages = [
                ("dashboard", "/"), ("stats JSON", "/stats"), ("busy", "/busy"),
                ("queues", "/queues"), ("queue, first page", "/queues/big"),
                ("queue, oldest first", "/queues/big?direction=asc"),
                ("queue, middle page", f"/queues/big?page={last_page // 2}"),
                ("queue, last page", f"/queues/big?page={last_page}"),
                ("retries", "/retries"), ("retries, page 2000", "/retries?page=2000"),
                ("retry detail", f"/retries/{retry_key}"), ("scheduled", "/scheduled"),
                ("dead", "/morgue"), ("metrics", "/metrics"),
                ("retries filter (match)", "/retries?substr=Job7"),
                ("retries filter (no match: full ZSCAN)", "/retries?substr=zzznomatch"),
            ]  # fmt: skip
            app = create_app(Settings(redis_url=url), client=client)
            worst = 0.0
            with serving(app) as base, httpx.Client(base_url=base, timeout=60) as http:
                print(f"{'page':<40} {'median ms':>10} {'max ms':>9}  status")
                for label, path in pages:
                    median, slowest, status = time_page(http, path, options.repeat)
                    if "full ZSCAN" not in label:
                        worst = max(worst, median)
                    flag = "" if median < TARGET_MS or "full ZSCAN" in label else "  SLOW"
                    print(f"{label:<40} {median:>10.1f} {slowest:>9.1f}  {status}{flag}")
            verdict = "ok" if worst < TARGET_MS else "over target"
            print(f"slowest page median: {worst:.1f} ms (target {TARGET_MS:.0f} ms): {verdict}")
        finally:
            client.close()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
