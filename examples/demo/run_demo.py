"""Run the whole demo: push jobs from one process, work them off in another, report, stop.

    cd examples/demo && python run_demo.py [--n 20]

1. ``client.py`` runs as a subprocess and pushes jobs (the embedded Valkey server under
   ``./.henchman`` starts on first use; nothing to install, no Docker).
2. ``henchman run -r jobs -q default`` starts as a subprocess: a real worker process, logging to
   ``.henchman/demo-worker.log``.
3. This script waits until every job due now has run (the jobs add their jid to the ``demo:done``
   set), then prints a summary.
4. It sends SIGTERM to the worker, which stops gracefully (running jobs finish or go back to their
   queue), and waits for it to exit.

The embedded server keeps running afterwards (``henchman server stop`` ends it), and its data
persists: run the demo again and the job scheduled an hour ahead by the first run is still there.
Exit code 0 when every job was processed and the worker stopped cleanly, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from jobs import DONE, RESULTS

import henchman
from henchman import keys

HERE = Path(__file__).resolve().parent
WAIT_SECONDS = 60.0
STOP_SECONDS = 30.0


def henchman_command() -> list[str]:
    """The ``henchman`` console script beside this Python, else the same entry point via -c."""
    script = Path(sys.executable).with_name("henchman")
    if script.is_file():
        return [str(script)]
    found = shutil.which("henchman")
    if found:
        return [found]
    return [sys.executable, "-c", "from henchman.cli.main import entry; entry()"]


def counts(client: redis.Redis) -> dict[str, int]:
    """What is waiting in Redis right now, and the lifetime counters."""
    pipe = client.pipeline(transaction=False)
    pipe.llen(keys.queue("default"))
    for zset in (keys.SCHEDULE, keys.RETRY, keys.DEAD):
        pipe.zcard(zset)
    pipe.get(keys.STAT_PROCESSED)
    pipe.get(keys.STAT_FAILED)
    queued, scheduled, retries, dead, processed, failed = pipe.execute()
    return {
        "queued": queued, "scheduled": scheduled, "retries": retries, "dead": dead,
        "processed": int(processed or 0), "failed": int(failed or 0),
    }


def describe_server() -> None:
    if os.environ.get("HENCHMAN_REDIS_URL") or os.environ.get("REDIS_URL"):
        print("server: the Redis named by HENCHMAN_REDIS_URL / REDIS_URL")
        return
    status = subprocess.run(
        [*henchman_command(), "server", "status"], capture_output=True, text=True, check=False
    )
    state = status.stdout.strip() or status.stderr.strip()
    if status.returncode == 3:
        state += "; henchman starts it now"
    print(f"server: embedded Valkey under ./.henchman: {state}")


def push_jobs(n: int) -> dict[str, list[str]]:
    """Run client.py in its own process; echo its output; return the jids it pushed."""
    with tempfile.TemporaryDirectory() as tmp:
        jids_file = Path(tmp) / "jids.json"
        done = subprocess.run(
            [sys.executable, "client.py", "--n", str(n), "--jids-file", str(jids_file)],
            cwd=HERE, capture_output=True, text=True, check=False,
        )
        print(done.stdout.rstrip())
        if done.returncode != 0:
            print(done.stderr.rstrip(), file=sys.stderr)
            raise SystemExit(f"client.py failed with exit code {done.returncode}")
        jids: dict[str, list[str]] = json.loads(jids_file.read_text())
        return jids


def start_worker(log_path: Path) -> subprocess.Popen[bytes]:
    # Poll the schedule and retry sets about every second instead of every 5 s, so the job
    # scheduled 2 s ahead and the retry of ChargeCard run promptly (a setting from the env).
    env = {**os.environ, "HENCHMAN_POLL_INTERVAL_AVERAGE": "1"}
    command = [*henchman_command(), "run", "-r", "jobs", "-q", "default", "-t", "10"]
    print(f"\nstarting the worker: {' '.join(['henchman', *command[1:]])}")
    shown = log_path.relative_to(HERE) if log_path.is_relative_to(HERE) else log_path
    print(f"  (its log: {shown})")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(client: redis.Redis, jids: list[str], worker: subprocess.Popen[bytes]) -> int:
    """Wait until every jid is in the done set; return how many are (stops early if the worker
    exits)."""
    deadline = time.monotonic() + WAIT_SECONDS
    done = 0
    while time.monotonic() < deadline and worker.poll() is None:
        flags = client.smismember(DONE, jids) if jids else []
        done = sum(1 for flag in flags if flag)
        if done == len(jids):
            break
        time.sleep(0.1)
    return done


def results_of(client: redis.Redis, jids: list[str]) -> list[dict[str, object]]:
    """The ``demo:results`` entries written by this run's jobs, oldest first."""
    wanted = set(jids)
    entries = (json.loads(raw) for raw in client.lrange(RESULTS, 0, -1))
    return [entry for entry in entries if entry.get("jid") in wanted]


def stop_worker(worker: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then wait for the graceful stop (kill after STOP_SECONDS)."""
    if worker.poll() is not None:
        return worker.returncode
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the henchman demo end to end.")
    parser.add_argument("--n", type=int, default=20, help="number of bulk jobs (default 20)")
    options = parser.parse_args()
    os.chdir(HERE)  # the embedded server lives in ./.henchman of the demo directory

    describe_server()
    app = henchman.default_app()
    client = app.client.redis  # henchman starts the embedded server here if it is not running
    before = counts(client)
    print(
        f"already in Redis at start: {before['queued']} queued in 'default', "
        f"{before['scheduled']} scheduled, {before['retries']} retries, {before['dead']} dead; "
        f"{before['processed']} processed so far\n"
    )

    jids = push_jobs(options.n)
    log_path = app.settings.home.resolve() / "demo-worker.log"
    started = time.monotonic()
    worker = start_worker(log_path)
    try:
        done = wait_for(client, jids["now"], worker)
        elapsed = time.monotonic() - started
    finally:
        code = stop_worker(worker)
    after = counts(client)

    total = len(jids["now"])
    print("\nsummary:")
    print(f"  already queued at start   {before['queued']} in 'default', "
          f"{before['scheduled']} scheduled, {before['retries']} retries")
    print(f"  pushed this run           {total} due now or within seconds, "
          f"{len(jids['later'])} an hour ahead")
    print(f"  processed                 {done} of {total} in {elapsed:.1f} s "
          f"(including worker start-up)")
    print(f"  stat:processed            {before['processed']} -> {after['processed']} "
          f"(failures count as processed, as in Sidekiq)")
    print(f"  stat:failed               {before['failed']} -> {after['failed']} "
          f"(ChargeCard fails its first attempt on purpose)")
    print(f"  left in Redis             {after['queued']} queued, {after['scheduled']} scheduled, "
          f"{after['retries']} retries, {after['dead']} dead")
    print(f"  worker exit code          {code} (after SIGTERM)")
    if before["scheduled"]:
        print(f"  ({before['scheduled']} scheduled at start: the hour-ahead jobs of earlier runs, "
              "kept by the server's append-only file)")
    print("  some results:")
    shown = set()
    for entry in results_of(client, jids["now"]):
        if entry["job"] not in shown and entry["job"] != "add":
            shown.add(entry["job"])
            print(f"    {entry['job']:<16} {json.dumps(entry['result'])}")
    if done == total and code == 0:
        print(f"\nall {total} jobs processed; the worker stopped cleanly.")
        print("The embedded server is still running: run the demo again to reuse it, or stop it "
              "with `henchman server stop` (from this directory).")
        return 0
    print(f"\nFAILED: {total - done} job(s) not processed, worker exit code {code}. "
          f"Last lines of {log_path}:\n{tail(log_path)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
