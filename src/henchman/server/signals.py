"""Signals: TSTP quiet, TERM/INT stop, TTIN dump stacks, USR2 drain and exit.

USR2 is the worker's half of a rolling restart: stop fetching, let every running job finish
with no deadline, then exit (the ``-P`` supervisor has already started the replacements).

Handlers only enqueue the signal's name; the launcher's main loop acts on it, so nothing
complicated ever runs inside a signal handler. Embedded workers install none.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable

log = logging.getLogger("henchman")

HANDLED = ("TSTP", "TERM", "INT", "TTIN", "USR2")


#: Where handlers put signal names. A ``queue.Queue`` wakes a waiting ``get(timeout=...)`` at once;
#: the C ``SimpleQueue``'s wait cannot be interrupted, so a signal waited out the timeout.
Requests = queue.Queue[str] | queue.SimpleQueue[str]


def install(requests: Requests) -> None:
    """Route TSTP/TERM/INT/TTIN/USR2 to ``requests`` (main thread only)."""
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
