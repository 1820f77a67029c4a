"""The multi-process supervisor (SPEC §12, first part): ``henchman run -P N``.

The supervisor imports no application code. It starts N copies of the same ``henchman run``
command as child processes (each a complete, single-process worker with its own identity,
heartbeat and working lists), forwards TERM/INT/TSTP/TTIN to them, restarts a child that dies,
and exits non-zero when the app cannot boot (a child that fails during its first seconds with
the configuration or import exit codes 1/2 before any child has booted).

Children are fresh interpreters rather than forks: a forked copy of a process with threads and
open sockets is a source of deadlocks, and a fresh interpreter costs only startup time. A child
killed by a signal (SIGKILL, OOM) is simply restarted; its jobs come back through orphan
recovery (SPEC §6.2).
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from henchman.server.placement import SLOT_ENV

log = logging.getLogger("henchman")

#: Set in each child's environment: the child runs as a plain single-process worker.
CHILD_ENV = "HENCHMAN_SUPERVISED_CHILD"
#: A child that exits within this many seconds of starting has failed to boot.
BOOT_WINDOW = 5.0
FORWARDED = ("TERM", "INT", "TSTP", "TTIN")


@dataclass
class Child:
    """One worker process and when it started."""

    index: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


def restart_delay(recent_crashes: int) -> float:
    """Back off when a child keeps dying: 0 s, then 1, 2, 4 ... up to 30 s."""
    return 0.0 if recent_crashes <= 1 else float(min(30, 2 ** (recent_crashes - 2)))


def is_boot_failure(code: int, lived: float, any_booted: bool) -> bool:
    """Whether a child's exit means the app cannot start at all (stop instead of looping)."""
    return not any_booted and lived < BOOT_WINDOW and code in (1, 2)


class Supervisor:
    """Keeps ``count`` copies of ``command`` running until told to stop."""

    def __init__(
        self,
        command: Sequence[str],
        count: int,
        *,
        env: dict[str, str] | None = None,
        spawn: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    ) -> None:
        self.command = list(command)
        self.count = count
        self.env = {**(env if env is not None else os.environ), CHILD_ENV: "1"}
        self._spawn = spawn
        self.children: dict[int, Child] = {}
        self.requests: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._crashes: dict[int, int] = {}
        self._booted = False
        self._stopping = False

    def run(self, install_signals: bool = True) -> int:
        """Supervise until TERM/INT; return the exit code for the supervisor process."""
        if install_signals:
            for name in FORWARDED:
                signal.signal(getattr(signal, f"SIG{name}"), self._forward_later(name))
        for index in range(self.count):
            self._start(index)
        log.info("supervisor %d started %d worker processes", os.getpid(), self.count)
        while True:
            with contextlib.suppress(queue.Empty):
                self._act(self.requests.get(timeout=0.2))
            code = self._reap()
            if code is not None:
                return code
            if self._stopping and not self.children:
                return 0

    def _forward_later(self, name: str) -> Callable[[int, object], None]:
        def handler(_signum: int, _frame: object) -> None:
            self.requests.put(name)

        return handler

    def _act(self, name: str) -> None:
        if name in ("TERM", "INT"):
            self._stopping = True
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(
                    getattr(signal, f"SIG{'TERM' if name == 'INT' else name}")
                )

    def _start(self, index: int) -> None:
        # The slot gives each child its own first CPU under cpu_affinity auto (placement.py).
        process = self._spawn(self.command, env={**self.env, SLOT_ENV: str(index)})
        self.children[index] = Child(index, process)

    def _reap(self) -> int | None:
        """Handle exited children; return an exit code when the supervisor must exit."""
        for index, child in list(self.children.items()):
            code = child.process.poll()
            if code is None:
                lived = time.monotonic() - child.started
                if lived >= BOOT_WINDOW:
                    self._booted = True
                    self._crashes[index] = 0
                continue
            del self.children[index]
            if self._stopping:
                continue
            lived = time.monotonic() - child.started
            if is_boot_failure(code, lived, self._booted):
                log.error("worker process exited with %d while booting; stopping", code)
                self._act("TERM")
                self._stopping = True
                self._wait_all()
                return code
            self._crashes[index] = self._crashes.get(index, 0) + 1
            delay = restart_delay(self._crashes[index])
            log.warning(
                "worker process %d exited with %d; restarting in %.0f s",
                child.process.pid,
                code,
                delay,
            )
            time.sleep(delay)
            self._start(index)
        return None

    def _wait_all(self) -> None:
        for child in list(self.children.values()):
            child.process.wait()
        self.children.clear()


def child_command(argv: Sequence[str]) -> list[str]:
    """The command a child runs: this same ``henchman`` invocation, through this interpreter."""
    return [sys.executable, "-m", "henchman", *argv]
