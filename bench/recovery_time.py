"""How long until a SIGKILLed worker's job runs again, with default settings.

Starts a worker with henchman's defaults (heartbeat 10 s, process TTL 60 s, orphan check every
60 s), lets it start a long job, SIGKILLs it, starts a replacement, and measures from the kill
to the job's second start. The promise: within about 120 s.

    .venv/bin/python bench/recovery_time.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

JOBS = '''
import os, time, redis, henchman

@henchman.job
def long_job():
    redis.Redis.from_url(os.environ["REDIS_URL"]).rpush("bench:starts", time.time())
    time.sleep(600)
'''


def main() -> None:
    from henchman import keys
    from henchman.redis.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="henchman-recovery-") as tmp:
        home = Path(tmp)
        (home / "recovery_jobs.py").write_text(JOBS)
        server = EmbeddedServer(home / ".henchman")
        url = server.ensure_running()
        client = redis.Redis.from_url(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HENCHMAN_")}
        env["REDIS_URL"] = url
        command = [str(Path(sys.executable).with_name("henchman")), "run", "-r", "recovery_jobs",
                   "-l", "warning", "-P", "1"]
        try:
            subprocess.run([sys.executable, "-c", "import recovery_jobs; "
                            "recovery_jobs.long_job.perform_async()"], cwd=home, env=env,
                           check=True)
            first = subprocess.Popen(command, cwd=home, env=env)
            while client.llen("bench:starts") < 1:
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.time()
            second = subprocess.Popen(command, cwd=home, env=env)
            while client.llen("bench:starts") < 2:
                time.sleep(0.2)
            rerun = float(client.lindex("bench:starts", 1))
            recovered = int(client.get(keys.STAT_RECOVERED) or 0)
            print(f"job running again {rerun - killed:.1f} s after SIGKILL "
                  f"(defaults; recovered count {recovered})")
            second.send_signal(signal.SIGKILL)
            second.wait()
        finally:
            client.close()
            server.stop()


if __name__ == "__main__":
    main()
