"""How a supervised child tells its supervisor that it heartbeats: one byte per heartbeat.

The supervisor gives each child the write end of a pipe (its number in ``HENCHMAN_STATUS_FD``);
after every heartbeat the child writes ``1`` (it succeeded) or ``0`` (Redis did not answer). The
first ``1`` means the child is up: its code imported, it registered, it is fetching. The
supervisor reads these bytes for rolling restarts ("the new children are up") and for its health
endpoint ("every child heartbeats").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

STATUS_FD_ENV = "HENCHMAN_STATUS_FD"


def writer(fd: int) -> Callable[[bool], None]:
    """A heartbeat listener that reports each outcome on ``fd`` (silent once the reader died)."""

    def report(ok: bool) -> None:
        with contextlib.suppress(OSError):  # the supervisor is gone: parent_watch handles that
            os.write(fd, b"1" if ok else b"0")

    return report


def read_outcomes(fd: int) -> list[bool]:
    """Outcomes written since the last call, oldest first (``fd`` must be non-blocking)."""
    outcomes: list[bool] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # nothing more for now (EAGAIN), or the pipe is closed
            return outcomes
        if not data:  # the child closed its end (it exited)
            return outcomes
        outcomes.extend(byte == ord("1") for byte in data)
