"""Batches: what belonging to a batch costs, as ratios measured in one run.

    .venv/bin/python bench/batches.py                 # n = 10,000, 3 interleaved repetitions
    .venv/bin/python bench/batches.py --n 2000 --reps 1

Rows (medians of the repetitions; plain and batch runs alternate so machine load hits both):

  drain       one ``henchman run`` process drains ``n`` queued no-op jobs (``bench_jobs.noop``),
              plain and all in one batch; rate from the jobs' own timestamps (start-up excluded).
              Redis commands per job: the sum of ``INFO commandstats`` calls (commands run inside
              Lua scripts included; the job's own instrumentation is 3 of them) and the script
              calls clients sent (``EVALSHA``), taken around the drain, divided by ``n``. A batch
              job's ``batch_ack`` rides in the pipeline of the next fetch: no extra round trip.
  create      ``perform_bulk`` of ``n`` jobs, plain and inside ``batch.jobs()`` (staged in slices
              of 1,000, committed by one script).
              Worker CPU per job (``RUSAGE_CHILDREN``, start-up included) and the server's
              (``INFO cpu``) are steadier than rates on a loaded machine.
  memory      ``MEMORY USAGE`` of a pending batch's keys per job, and how much bigger each queued
              payload is (its ``"bid"``), both measured on ``n`` queued jobs.

Targets: drain in a batch >= 70 % of plain; create <= 1.5x perform_bulk; batch memory
< 150 bytes per job.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_jobs  # noqa: E402
import enqueue_drain  # noqa: E402

import henchman  # noqa: E402
from henchman import keys  # noqa: E402
from henchman.config import Settings  # noqa: E402

QUEUE = enqueue_drain.QUEUE


def commands(client: redis.Redis) -> tuple[int, int]:
    """(every command run, those run inside scripts included; script calls sent by clients)."""
    stats = client.info("commandstats")
    scripts = sum(int(stats.get(name, {}).get("calls", 0)) for name in (
        "cmdstat_evalsha", "cmdstat_eval"))  # fmt: skip
    return sum(int(v["calls"]) for v in stats.values()), scripts


def fill(n: int, in_batch: bool) -> float:
    """Push ``n`` no-op jobs (in one batch or not); returns the seconds it took."""
    args = [[0.0] for _ in range(n)]
    started = time.perf_counter()
    if in_batch:
        with henchman.Batch(description="bench").jobs():
            bench_jobs.noop.perform_bulk(args)
    else:
        bench_jobs.noop.perform_bulk(args)
    return time.perf_counter() - started


def reset(client: redis.Redis) -> None:
    client.flushdb()


def server_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def drain_once(client: redis.Redis, url: str, n: int, in_batch: bool) -> tuple[float, ...]:
    """(jobs/s, commands/job, script calls/job, worker CPU µs/job, server CPU µs/job)."""
    reset(client)
    fill(n, in_batch)
    client.config_resetstat()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = server_cpu(client)
    with tempfile.TemporaryDirectory() as tmp:
        result = enqueue_drain.drain(client, url, n, Path(tmp) / "worker.log")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    server = server_cpu(client) - server
    run, scripts = commands(client)
    rate = (result["done"] - 1) / (result["last"] - result["first"])
    return rate, run / n, scripts / n, worker * 1e6 / n, server * 1e6 / n


def memory(client: redis.Redis, n: int) -> tuple[float, float]:
    """(batch keys bytes per job, extra payload bytes per job) for ``n`` pending jobs."""
    reset(client)
    fill(n, False)
    plain_queue = int(client.memory_usage(keys.queue(QUEUE), samples=0) or 0)
    reset(client)
    fill(n, True)
    (bid,) = [b.decode() for b in client.zrange(keys.BATCHES, 0, -1)]
    batch_bytes = sum(int(client.memory_usage(k, samples=0) or 0) for k in keys.batch_keys(bid))
    batch_queue = int(client.memory_usage(keys.queue(QUEUE), samples=0) or 0)
    return batch_bytes / n, (batch_queue - plain_queue) / n


def main() -> None:
    parser = argparse.ArgumentParser(description="What batches cost.")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    options = parser.parse_args()
    n = options.n
    with enqueue_drain.server(None) as url:
        app = henchman.default_app()
        app.configure(Settings(redis_url=url, reliable_push=False))
        client = redis.Redis.from_url(url)
        app.client.redis.ping()
        drains: dict[bool, list[tuple[float, ...]]] = {False: [], True: []}
        creates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(options.reps):
            for in_batch in (False, True):
                drains[in_batch].append(drain_once(client, url, n, in_batch))
            for _ in range(5):
                for in_batch in (False, True):
                    reset(client)
                    creates[in_batch].append(fill(n, in_batch))
        per_job, payload_extra = memory(client, n)
        reset(client)
        app.close()
        client.close()

    def med(values: list[float]) -> float:
        return statistics.median(values)

    plain_rate = med([d[0] for d in drains[False]])
    batch_rate = med([d[0] for d in drains[True]])
    plain_create, batch_create = med(creates[False]), med(creates[True])
    print(f"henchman {henchman.__version__}, n={n:,}, {options.reps} repetitions (medians)")
    runs = ", ".join(
        f"{plain[0]:,.0f}/{batch[0]:,.0f}"
        for plain, batch in zip(drains[False], drains[True], strict=True)
    )
    print(f"drain jobs/s per repetition (plain/batch): {runs}")
    print("| row | plain | in one batch | ratio | target |")
    print("|---|---|---|---|---|")
    # Each batch drain ran right after a plain one: the median of those pairs' ratios is far
    # steadier on a shared machine than the ratio of the two medians.
    pair_ratio = med([b[0] / p[0] for p, b in zip(drains[False], drains[True], strict=True)])
    print(
        f"| drain jobs/s (ratio: median of pairs) | {plain_rate:,.0f} | {batch_rate:,.0f} | "
        f"{pair_ratio:.0%} | >= 70 % |"
    )
    plain_cpu = med([d[3] for d in drains[False]])
    batch_cpu = med([d[3] for d in drains[True]])
    print(
        f"| worker CPU µs/job (start-up and stop included) | {plain_cpu:,.0f} | "
        f"{batch_cpu:,.0f} | {plain_cpu / batch_cpu:.0%} | |"
    )
    print(
        f"| server CPU µs/job | {med([d[4] for d in drains[False]]):,.0f} | "
        f"{med([d[4] for d in drains[True]]):,.0f} | | |"
    )
    print(
        f"| Redis commands/job (those inside Lua included) | "
        f"{med([d[1] for d in drains[False]]):.2f} | {med([d[1] for d in drains[True]]):.2f} "
        "| | |"
    )
    print(
        f"| script calls (EVALSHA)/job sent by clients | "
        f"{med([d[2] for d in drains[False]]):.2f} | {med([d[2] for d in drains[True]]):.2f} "
        "| | |"
    )
    create_ratio = med([b / p for p, b in zip(creates[False], creates[True], strict=True)])
    print(
        f"| create {n:,} jobs, s (ratio: median of pairs) | {plain_create:.3f} | "
        f"{batch_create:.3f} | {create_ratio:.2f}x | <= 1.5x |"
    )
    print(f"| pending batch memory, bytes/job | | {per_job:.1f} | | < 150 |")
    print(f"| payload growth (the bid), bytes/job | | {payload_extra:.1f} | | |")


if __name__ == "__main__":
    main()
