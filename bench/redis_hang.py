"""The full Redis-hang scenario at default settings: jobs run, lost and run twice.

5,000 jobs, each recording its jid and sleeping 5 ms, one ``henchman run -c 10`` worker with every
default; at 1,500 done the embedded Valkey server is stopped with SIGSTOP for 20 s, then
continued. Prints how many jobs ran, how many never ran while the worker lived (lost), how many
ran twice, and the worker's outage log lines. ``tests/faults/test_redis_hangs.py`` runs a scaled
down version of the same scenario in the test suite.

    .venv/bin/python bench/redis_hang.py
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

JOBS = """
import os, time, redis, henchman

_client = redis.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"])

@henchman.job
def nap(seconds):
    _client.rpush("bench:done", henchman.current_job().jid)
    time.sleep(seconds)
"""
TOTAL, FREEZE_AT, FREEZE_SECONDS = 5000, 1500, 20.0


def main() -> None:
    from henchman.app import Henchman
    from henchman.config import Settings
    from henchman.redis.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="henchman-hang-") as tmp:
        home = Path(tmp)
        (home / "hang_jobs.py").write_text(JOBS)
        server = EmbeddedServer(home / ".henchman")
        url = server.ensure_running()
        app = Henchman(Settings(redis_url=url, reliable_push=False))
        jids = app.client.push_bulk(
            "hang_jobs.nap", [[0.005]] * TOTAL, {"queue": "default", "retry": True}
        )
        app.close()
        client = redis.Redis.from_url(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HENCHMAN_")}
        env.update(HENCHMAN_REDIS_URL=url, PYTHONUNBUFFERED="1")
        log = home / "worker.log"
        with open(log, "wb") as out:
            worker = subprocess.Popen(
                [str(Path(sys.executable).with_name("henchman")), "run", "-r", "hang_jobs",
                 "-c", "10", "-P", "1"], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            while client.llen("bench:done") < FREEZE_AT:
                time.sleep(0.01)
            pid = int(server.pidfile.read_text())
            os.kill(pid, signal.SIGSTOP)
            time.sleep(FREEZE_SECONDS)
            os.kill(pid, signal.SIGCONT)
            resumed = time.monotonic()
            while client.llen("bench:done") < TOTAL and time.monotonic() - resumed < 60:
                time.sleep(0.1)
            done = collections.Counter(j.decode() for j in client.lrange("bench:done", 0, -1))
            lost = set(jids) - set(done)
            twice = sum(1 for n in done.values() if n > 1)
            print(
                f"{len(done)} run, {len(lost)} lost, {twice} run twice "
                f"({time.monotonic() - resumed:.1f} s after SIGCONT)"
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
            client.close()
            server.stop()
        for line in log.read_text().splitlines():
            if "Redis" in line or "gave back" in line:
                print(line)


if __name__ == "__main__":
    main()
