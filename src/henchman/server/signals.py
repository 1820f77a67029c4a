"""Signals: TSTP quiet, TERM/INT stop, TTIN dump stacks, USR2 drain and exit.

USR2 is the worker's half of a rolling restart: stop fetching, let every running job finish
with no deadline, then exit (the ``-P`` supervisor has already started the replacements).

Handlers only enqueue the signal's name; the launcher's main loop acts on it, so nothing
complicated ever runs inside a signal handler. Embedded workers install none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable

log = logging.getLogger("henchman")

HANDLED = ("TSTP", "TERM", "INT", "TTIN", "USR2")


class Requests:
    """Requests (signal names) for a main loop, put by signal handlers and by other threads.

    A signal handler runs in the main thread between two bytecodes, possibly in the middle of
    the main loop's own ``get``. So ``put`` takes no lock: a ``queue.Queue`` put there takes the
    queue's lock, which the interrupted ``get`` may be holding, and the main thread deadlocks
    (a worker that got TERM at that moment never stopped). The names go to a C ``SimpleQueue``,
    whose ``put`` is reentrant. Its ``get`` cannot be interrupted by a signal, though, so once
    :meth:`wake_on_signals` made a pipe, every ``put`` also writes a byte to it and ``get`` waits
    in ``select`` on the pipe, which a signal does interrupt (the self-pipe trick): a request is
    acted on at once, not after the wait's timeout.
    """

    def __init__(self) -> None:
        self._items: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._wake: tuple[int, int] | None = None

    def wake_on_signals(self) -> None:
        """Make the wake-up pipe (once). It lives as long as the process: handlers installed
        with it may run until the process exits, and must never write to a reused descriptor."""
        if self._wake is None:
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            os.set_blocking(write_fd, False)
            self._wake = (read_fd, write_fd)

    def put(self, name: str) -> None:
        """Add a request (safe in a signal handler and from any thread)."""
        self._items.put(name)
        if self._wake is not None:
            with contextlib.suppress(OSError):  # a full pipe is readable already
                os.write(self._wake[1], b"\0")

    def get(self, timeout: float) -> str:
        """The oldest request, waiting up to ``timeout`` s; ``queue.Empty`` if none came."""
        try:
            return self._items.get_nowait()
        except queue.Empty:
            if self._wake is None:
                return self._items.get(timeout=timeout)
        read_fd = self._wake[0]
        select.select([read_fd], [], [], timeout)
        with contextlib.suppress(OSError):  # nothing to read: the wait timed out
            os.read(read_fd, 4096)
        return self._items.get_nowait()


def install(requests: Requests) -> None:
    """Route TSTP/TERM/INT/TTIN/USR2 to ``requests`` (main thread only)."""
    requests.wake_on_signals()
    for name in HANDLED:
        signum = getattr(signal, f"SIG{name}", None)
        if signum is not None:
            signal.signal(signum, _forwarder(requests, name))


def _forwarder(requests: Requests, name: str) -> Callable[[int, object], None]:
    def handler(_signum: int, _frame: object) -> None:
        requests.put(name)

    return handler


def dump_stacks(loops: Iterable[asyncio.AbstractEventLoop] = ()) -> str:
    """Every thread's stack and every asyncio task's stack, as text (also logged)."""
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        parts.append(f"Thread {names.get(ident, ident)} ({ident}):\n{stack}")
    for loop in loops:
        try:
            tasks = asyncio.all_tasks(loop)
        except RuntimeError:
            continue
        for task in list(tasks):
            frames = task.get_stack()
            stack = (
                "".join(traceback.format_list(traceback.extract_stack(frames[-1])))
                if frames
                else ""
            )
            parts.append(f"Task {task.get_name()}:\n{stack}")
    text = "\n".join(parts)
    log.warning("TTIN: stack dump of %d thread(s) and tasks\n%s", len(names), text)
    return text
