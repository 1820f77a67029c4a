"""``within_limit`` of a concurrent limiter: round trips and commands per acquire/release pair,
and pairs per second from one process.

One embedded server (unix socket, a temporary HENCHMAN_HOME), one thread, a limiter large enough
never to refuse: so every pair is exactly one acquire script and one release script. Commands are
counted from ``INFO commandstats`` deltas (the server is private to this run); ``PING`` round
trips per second on the same connection pool are measured in the same run, as the machine's
ceiling for any one-round-trip operation.

    .venv/bin/python bench/limiter_pairs.py            # 20,000 pairs
    .venv/bin/python bench/limiter_pairs.py --n 2000   # smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


def commandstats(client: Any) -> dict[str, tuple[int, int]]:
    """(calls, microseconds) per command name since the server started."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): (int(value["calls"]), int(value["usec"]))
        for name, value in stats.items()
    }


def delta(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    zero = (0, 0)
    return {
        k: (v[0] - before.get(k, zero)[0], v[1] - before.get(k, zero)[1])
        for k, v in after.items()
        if v[0] > before.get(k, zero)[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="acquire/release pairs to time")
    n = parser.parse_args().n

    import henchman
    from henchman.app import Henchman
    from henchman.config import Settings
    from henchman.redis.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="henchman-limiter-bench-") as tmp:
        server = EmbeddedServer(Path(tmp))
        url = server.ensure_running()
        app = Henchman(Settings(redis_url=url, home=Path(tmp)))
        try:
            client = app.client.redis
            limiter = henchman.limiter.concurrent("bench", 1_000_000, app=app)
            with limiter.within_limit():  # registers the limiter and loads both scripts
                pass
            started = time.perf_counter()
            for _ in range(n):
                client.ping()
            pings = n / (time.perf_counter() - started)

            before = commandstats(client)
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                with limiter.within_limit():
                    pass
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            calls = delta(before, commandstats(client))
            calls.pop("info", None)  # the measurement itself
        finally:
            app.close()
            server.stop()

    round_trips = sum(v[0] for k, v in calls.items() if k in ("evalsha", "eval"))
    inner = sum(v[0] for v in calls.values()) - round_trips
    server_us = sum(v[1] for k, v in calls.items() if k in ("evalsha", "eval")) / n
    client_us = cpu * 1e6 / n
    pairs = n / elapsed
    print(f"henchman {henchman.__version__}, concurrent limiter within_limit, n={n:,}")
    print("| measure                                   |        value |")
    print("|-------------------------------------------|--------------|")
    print(f"| acquire/release pairs per second          | {pairs:12,.0f} |")
    print(f"| round trips (EVALSHA) per pair            | {round_trips / n:12.2f} |")
    print(f"| commands run inside the scripts per pair  | {inner / n:12.2f} |")
    print(f"| PING round trips per second (same run)    | {pings:12,.0f} |")
    print(f"| pairs/s as a share of PING/s / 2          | {pairs / (pings / 2):12.0%} |")
    print(f"| client CPU per pair (µs)                  | {client_us:12.1f} |")
    print(f"| server time per pair, both scripts (µs)   | {server_us:12.1f} |")
    print(f"| CPU-bound ceiling, 1e6 / (client+server)  | {1e6 / (client_us + server_us):12,.0f} |")
    counted = ", ".join(f"{k} {v[0] / n:.2f}" for k, v in sorted(calls.items()))
    print(f"commands per pair: {counted}")


if __name__ == "__main__":
    main()
