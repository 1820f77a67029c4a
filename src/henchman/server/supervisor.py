"""The multi-process supervisor: ``henchman run -P N``.

The supervisor imports no application code. It starts N copies of the same ``henchman run``
command as child processes (each a complete, single-process worker with its own identity,
heartbeat and working lists) and:

* forwards TERM/INT/TSTP/TTIN to them and exits once they have stopped;
* restarts a child that dies, with backoff; exits non-zero with the child's code when the app
  cannot boot (children exit with 1/2 before any of them ever heartbeat);
* replaces a child whose RSS exceeds ``max_memory_mb``: a fresh child starts, the old one gets
  TERM (it stops fetching, finishes its jobs within ``timeout`` and pushes the rest back to the
  head of their queues);
* on USR2, rolls: it starts a fresh generation of children (fresh interpreters import the code
  as it is on disk now), and only once every one of them heartbeats does it send USR2 to the old
  ones, which stop fetching, finish their running jobs with no deadline, and exit. If the new
  generation cannot boot, the old one keeps running and the reason is logged.

Each child reports every heartbeat's outcome on a pipe (:mod:`henchman.server.status_pipe`): the
first success means "up", and the latest outcomes feed :meth:`Supervisor.health`. Children
watch their supervisor (:mod:`henchman.server.parent_watch`) and stop when it dies.

Children are fresh interpreters rather than forks: a forked copy of a process with threads and
open sockets is a source of deadlocks, and a fresh interpreter costs only startup time. A child
killed by a signal (SIGKILL, OOM) is simply restarted; its jobs come back through orphan
recovery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from henchman.server.health import BeatMonitor
from henchman.server.memory_limit import over_memory, rss_of
from henchman.server.parent_watch import SUPERVISOR_PID_ENV
from henchman.server.placement import SLOT_ENV
from henchman.server.sd_notify import SYSTEMD_VARIABLES, Notifier
from henchman.server.status_pipe import STATUS_FD_ENV, read_outcomes

log = logging.getLogger("henchman")

#: Set in each child's environment: the child runs as a plain single-process worker.
CHILD_ENV = "HENCHMAN_SUPERVISED_CHILD"
#: A child up for this long has booted for good: its slot's crash count starts again.
BOOT_WINDOW = 5.0
FORWARDED = ("TERM", "INT", "TSTP", "TTIN")


@dataclass
class Child:
    """One worker process: its slot, generation, status pipe and heartbeat outcomes."""

    slot: int
    generation: int
    process: subprocess.Popen[bytes]
    status_fd: int
    monitor: BeatMonitor
    started: float = field(default_factory=time.monotonic)
    #: True after the child's first successful heartbeat.
    up: bool = False
    #: Why it is on its way out (it is then never restarted), or None.
    retiring: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Rolling:
    """A rolling restart in progress: the generation being started and when."""

    generation: int
    started: float


def restart_delay(recent_crashes: int) -> float:
    """Back off when a child keeps dying: 0 s, then 1, 2, 4 ... up to 30 s."""
    return 0.0 if recent_crashes <= 1 else float(min(30, 2 ** (recent_crashes - 2)))


def is_boot_failure(code: int, was_up: bool, any_up: bool) -> bool:
    """Whether a child's exit means the app cannot start at all (stop instead of looping):
    it exited with the configuration or import codes (2, 1) before it or any other child ever
    heartbeat."""
    return not was_up and not any_up and code in (1, 2)


class Supervisor:
    """Keeps ``count`` copies of ``command`` running until told to stop."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        env: dict[str, str] | None = None,
        spawn: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
        max_memory_mb: int | None = None,
        stale_after: float = 30.0,
        boot_timeout: float = 120.0,
        notifier: Notifier | None = None,
        rss: Callable[[int], int] = rss_of,
        memory_check_interval: float = 1.0,
        cwd: str | None = None,
    ) -> None:
        self.command = list(command)
        #: Where children start; a path through a symlink is resolved again at each start, so a
        #: release swapped behind a ``current`` symlink is picked up by a rolling restart.
        self.cwd = cwd
        self.count = count
        base = dict(env if env is not None else os.environ)
        for name in SYSTEMD_VARIABLES:  # only the supervisor talks to systemd
            base.pop(name, None)
        self.env = {**base, CHILD_ENV: "1", SUPERVISOR_PID_ENV: str(os.getpid())}
        self._spawn = spawn
        self.max_memory_mb = max_memory_mb
        self.stale_after = stale_after
        self.boot_timeout = boot_timeout
        self.notifier = notifier or Notifier({})
        self._rss = rss
        self._memory_check_interval = memory_check_interval
        self.children: list[Child] = []
        self.requests: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._crashes: dict[int, int] = {}
        self._restarts: list[tuple[float, int]] = []  # (when, slot)
        self._generation = 0
        self._rolling: Rolling | None = None
        self._any_up = False
        self._ready_sent = False
        self._stopping = False
        self._next_memory_check = 0.0
        self._next_watchdog = 0.0

    # --- main loop ------------------------------------------------------------------------------

    def run(self, install_signals: bool = True) -> int:
        """Supervise until TERM/INT; return the exit code for the supervisor process."""
        if install_signals:
            for name in (*FORWARDED, "USR2"):
                signal.signal(getattr(signal, f"SIG{name}"), self._forward_later(name))
        # One child first, the others once it is up: an app that cannot boot (a typo in -r, a
        # bad import) then fails in one child, and its error is printed once, not once per CPU.
        self._start(0)
        waiting = list(range(1, self.count))
        log.info("supervisor %d starting %d worker processes", os.getpid(), self.count)
        try:
            while True:
                with contextlib.suppress(queue.Empty):
                    self._act(self.requests.get(timeout=0.1))
                self._read_beats()
                if waiting and self._any_up and not self._stopping:
                    for slot in waiting:
                        self._start(slot)
                    waiting.clear()
                code = self._reap()
                if code is not None:
                    return code
                if self._stopping and not self.children:
                    return 0
                self._restart_due()
                self._check_rolling()
                self._check_memory()
                self._notify_systemd()
        finally:
            for child in self.children:
                with contextlib.suppress(OSError):
                    os.close(child.status_fd)

    def _forward_later(self, name: str) -> Callable[[int, object], None]:
        def handler(_signum: int, _frame: object) -> None:
            self.requests.put(name)

        return handler

    def _act(self, name: str) -> None:
        if name == "USR2":
            self._begin_rolling()
            return
        if name in ("TERM", "INT"):
            if not self._stopping:
                self.notifier.stopping()
            self._stopping = True
            self._restarts.clear()
            self._rolling = None
            name = "TERM"
        for child in self.children:
            self._signal(child, name)

    @staticmethod
    def _signal(child: Child, name: str) -> None:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(getattr(signal, f"SIG{name}"))

    def _start(self, slot: int) -> Child:
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        env = {**self.env, STATUS_FD_ENV: str(write_fd), SLOT_ENV: str(slot)}
        try:
            # The slot gives each child its own first CPU under cpu_affinity auto (placement.py).
            process = self._spawn(self.command, env=env, pass_fds=(write_fd,), cwd=self.cwd)
        finally:
            os.close(write_fd)
        child = Child(slot, self._generation, process, read_fd, BeatMonitor(self.stale_after))
        self.children.append(child)
        return child

    def _read_beats(self) -> None:
        now = time.monotonic()
        for child in self.children:
            for ok in read_outcomes(child.status_fd):
                child.monitor.record(ok, now)
                if ok and not child.up:
                    child.up = True
                    self._any_up = True
                    log.debug("worker process %d is up", child.pid)
            if child.up and now - child.started >= BOOT_WINDOW:
                self._crashes[child.slot] = 0

    # --- exits and restarts ---------------------------------------------------------------------

    def _reap(self) -> int | None:
        """Handle exited children; return an exit code when the supervisor must exit."""
        for child in list(self.children):
            code = child.process.poll()
            if code is None:
                continue
            self.children.remove(child)
            read_outcomes(child.status_fd)
            os.close(child.status_fd)
            if child.retiring is not None:
                log.info("worker process %d exited with %d (%s)", child.pid, code, child.retiring)
                continue
            if self._stopping:
                continue
            rolling = self._rolling
            if rolling is not None and child.generation == rolling.generation and not child.up:
                self._abort_rolling(
                    f"new worker process {child.pid} exited with {code} before it was up"
                    " (its error is logged above)"
                )
                continue
            if rolling is not None and child.generation < rolling.generation:
                log.warning("old worker process %d exited with %d during a rolling restart; "
                            "the new generation replaces it", child.pid, code)  # fmt: skip
                continue
            if is_boot_failure(code, child.up, self._any_up):
                log.error("worker process exited with %d while booting; stopping", code)
                self._act("TERM")
                self._wait_all()
                return code
            self._schedule_restart(child, code)
        return None

    def _schedule_restart(self, child: Child, code: int) -> None:
        self._crashes[child.slot] = self._crashes.get(child.slot, 0) + 1
        delay = restart_delay(self._crashes[child.slot])
        log.warning(
            "worker process %d exited with %d; restarting in %.0f s", child.pid, code, delay
        )
        self._restarts.append((time.monotonic() + delay, child.slot))

    def _restart_due(self) -> None:
        now = time.monotonic()
        for entry in [e for e in self._restarts if e[0] <= now]:
            self._restarts.remove(entry)
            self._start(entry[1])

    def _wait_all(self) -> None:
        for child in self.children:
            child.process.wait()
            with contextlib.suppress(OSError):
                os.close(child.status_fd)
        self.children.clear()

    # --- rolling restart ------------------------------------------------------------------------

    def _begin_rolling(self) -> None:
        if self._stopping:
            return
        if self._rolling is not None:
            log.warning("USR2: a rolling restart is already in progress; ignored")
            return
        self._generation += 1
        self._rolling = Rolling(self._generation, time.monotonic())
        self._restarts.clear()  # the new generation replaces whatever was waiting to restart
        log.info("rolling restart: starting %d new worker processes", self.count)
        self.notifier.status("rolling restart: starting new worker processes")
        for slot in range(self.count):
            self._start(slot)

    def _check_rolling(self) -> None:
        rolling = self._rolling
        if rolling is None:
            return
        fresh = [c for c in self.children if c.generation == rolling.generation]
        if len(fresh) >= self.count and all(c.up for c in fresh):
            old = [c for c in self.children if c.generation < rolling.generation]
            for child in old:
                child.retiring = "old generation, after finishing its jobs"
                self._signal(child, "USR2")
            self._rolling = None
            log.info(
                "rolling restart: new worker processes %s are up; old processes %s finish their "
                "running jobs and exit",
                ", ".join(str(c.pid) for c in fresh),
                ", ".join(str(c.pid) for c in old) or "(none)",
            )
            self.notifier.status(f"{self.count} worker processes")
        elif time.monotonic() - rolling.started > self.boot_timeout:
            self._abort_rolling(
                f"the new worker processes did not heartbeat within {self.boot_timeout:.0f} s"
            )

    def _abort_rolling(self, reason: str) -> None:
        rolling = self._rolling
        assert rolling is not None
        self._rolling = None
        for child in self.children:
            if child.generation == rolling.generation:
                child.retiring = "failed rolling restart"
                self._signal(child, "TERM")
        log.error("rolling restart failed: %s; the old worker processes keep running", reason)
        self.notifier.status(f"rolling restart failed: {reason}")

    # --- memory limit ---------------------------------------------------------------------------

    def _check_memory(self) -> None:
        now = time.monotonic()
        if self.max_memory_mb is None or self._rolling is not None or self._stopping:
            return
        if now < self._next_memory_check:
            return
        self._next_memory_check = now + self._memory_check_interval
        for child in list(self.children):
            if child.retiring is not None or not child.up:
                continue
            rss_kb = self._rss(child.pid)
            if over_memory(rss_kb, self.max_memory_mb):
                log.warning(
                    "worker process %d uses %d MB, over --max-memory-mb %d: starting a "
                    "replacement; it stops gracefully (jobs get up to the shutdown timeout)",
                    child.pid,
                    rss_kb // 1024,
                    self.max_memory_mb,
                )
                child.retiring = "replaced: over the memory limit"
                self._start(child.slot)
                self._signal(child, "TERM")

    # --- health and systemd ---------------------------------------------------------------------

    def health(self) -> tuple[int, dict[str, Any]]:
        """200 while every serving child is up and heartbeats successfully, else 503.

        Serving children are all but those on their way out and, during a rolling restart, the
        new generation still booting (the old one serves until it is up). All ``count`` of them
        must be there: while the first child is up and the others are still being started, or
        while a dead child waits for its restart, the supervisor is not healthy yet. Called from
        the health server's thread: it reads a snapshot of the children.
        """
        now = time.monotonic()
        children = list(self.children)
        rolling = self._rolling
        serving = [
            c
            for c in children
            if c.retiring is None and (rolling is None or c.generation < rolling.generation)
        ]
        healthy = (
            len(serving) >= self.count
            and not self._stopping
            and all(c.up and c.monitor.healthy(now) for c in serving)
        )
        body = {
            "status": "ok" if healthy else "unhealthy",
            "pid": os.getpid(),
            "processes": [
                {
                    "pid": c.pid,
                    "up": c.up,
                    "retiring": c.retiring is not None,
                    **c.monitor.describe(now),
                }
                for c in children
            ],
        }
        return (200 if healthy else 503), body

    def _notify_systemd(self) -> None:
        if not self.notifier.enabled:
            return
        now = time.monotonic()
        if not self._ready_sent and sum(c.up for c in self.children) >= self.count:
            self._ready_sent = self.notifier.ready(f"{self.count} worker processes")
        interval = self.notifier.watchdog_interval
        if interval and now >= self._next_watchdog and self._children_alive(now):
            self.notifier.watchdog()
            self._next_watchdog = now + interval / 2

    def _children_alive(self, now: float) -> bool:
        """Every child that is up reported a heartbeat (of any outcome) recently: none hangs."""
        return all(
            c.monitor.last_at is not None and now - c.monitor.last_at <= self.stale_after
            for c in self.children
            if c.up
        )


def logical_cwd(env: Mapping[str, str]) -> str | None:
    """The working directory as the user named it (``$PWD``, which may go through a symlink
    such as ``/srv/app/current``) when it is where this process runs; else None."""
    pwd = env.get("PWD", "")
    try:
        return pwd if os.path.isabs(pwd) and os.path.samefile(pwd, os.getcwd()) else None
    except OSError:
        return None


def child_command(argv: Sequence[str]) -> list[str]:
    """The command a child runs: this same ``henchman`` invocation, through this interpreter."""
    return [sys.executable, "-m", "henchman", *argv]
