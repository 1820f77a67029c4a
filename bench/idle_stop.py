"""How long an idle worker takes to stop after SIGTERM, with default settings.

    .venv/bin/python bench/idle_stop.py            # 5 stops, prints each and the median

Each round starts ``henchman run`` on the embedded server of a temporary directory, waits for
its "started" line and a moment inside its blocking fetch, sends SIGTERM and times the exit; the
log's "quieting" and "stopped" lines give the stop itself without interpreter start-up and exit.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _stamp(line: str) -> float:
    return datetime.datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")).timestamp()


def one_stop(workdir: Path) -> tuple[float, float]:
    """(seconds from SIGTERM to exit, seconds from "quieting" to "stopped" in the log)."""
    log = workdir / "worker.log"
    henchman = str(Path(sys.executable).with_name("henchman"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENCHMAN_")}
    env["HENCHMAN_HOME"] = str(workdir / ".henchman")
    with open(log, "wb") as out:
        worker = subprocess.Popen([henchman, "run", "-r", "jobs", "-P", "1"], cwd=workdir, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    while "started" not in log.read_text():
        time.sleep(0.05)
    time.sleep(1.1)
    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)
    exited = time.monotonic() - sent
    lines = log.read_text().splitlines()
    quieting = next(_stamp(x) for x in lines if "quieting" in x)
    stopped = next(_stamp(x) for x in lines if x.endswith(" stopped"))
    return exited, stopped - quieting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "jobs.py").write_text("import henchman\n")
        results = []
        for index in range(rounds):
            exited, stop = one_stop(workdir)
            results.append((exited, stop))
            print(f"round {index + 1}: exit {exited:.3f} s after SIGTERM, stop {stop:.3f} s")
        subprocess.run([str(Path(sys.executable).with_name("henchman")), "server", "stop"],
                       cwd=workdir, env={**os.environ, "HENCHMAN_HOME": str(workdir / ".henchman")},
                       capture_output=True, check=False)  # fmt: skip
    print(f"median: exit {statistics.median(r[0] for r in results):.3f} s, "
          f"stop {statistics.median(r[1] for r in results):.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
