"""A supervised child never outlives its supervisor.

When the ``-P`` supervisor dies (SIGKILL, the OOM killer), its children must stop gracefully:
their running jobs go back to their queues instead of the children running on as orphans. Two
mechanisms, belt and braces:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends SIGTERM the moment the parent
  dies, which the worker treats like any TERM;
* everywhere, a daemon thread that checks once a second whether the parent pid changed (a dead
  parent's children are re-parented), and then asks for a stop.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
from collections.abc import Callable

log = logging.getLogger("henchman")

#: The supervisor's pid, set in each child's environment.
SUPERVISOR_PID_ENV = "HENCHMAN_SUPERVISOR_PID"
#: prctl option number (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def ask_kernel_for_term() -> bool:
    """Linux only: have the kernel send SIGTERM to this process when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def parent_gone(expected: int, current: int) -> bool:
    """Whether the parent pid changed from the supervisor's (the supervisor died)."""
    return current != expected


def watch(
    expected_parent: int,
    on_gone: Callable[[], None],
    *,
    interval: float = 1.0,
    getppid: Callable[[], int] = os.getppid,
    ask_kernel: Callable[[], bool] = ask_kernel_for_term,
) -> threading.Event:
    """Start watching; call ``on_gone`` once if the parent changes. Set the returned event to
    stop watching."""
    ask_kernel()
    done = threading.Event()

    def loop() -> None:
        while not done.wait(interval):
            if parent_gone(expected_parent, getppid()):
                log.warning(
                    "supervisor %d is gone: stopping (running jobs go back to their queues)",
                    expected_parent,
                )
                on_gone()
                return

    if parent_gone(expected_parent, getppid()):  # it died before we could ask the kernel
        on_gone()
    else:
        threading.Thread(target=loop, name="henchman-parent-watch", daemon=True).start()
    return done
