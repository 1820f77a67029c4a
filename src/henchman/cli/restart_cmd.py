"""``henchman restart --rolling``: ask a running ``-P`` supervisor for a rolling restart.

It reads the supervisor's pid (``--pidfile`` as given to ``henchman run``, or ``--pid``) and sends
it USR2. The supervisor starts fresh worker processes with the code now on disk; once they
heartbeat, the old ones stop fetching, finish their running jobs and exit.

Exit codes: 0 signal sent; 1 no such process; 2 bad usage or an unreadable pidfile.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from henchman.cli.common import EXIT_NOT_FOUND, fail
from henchman.errors import ConfigError
from henchman.server import pidfile as pidfiles


@click.command()
@click.option("--rolling", is_flag=True, help="Rolling restart (the only kind there is).")
@click.option("--pidfile", default=None, help="The --pidfile the supervisor was started with.")
@click.option("--pid", type=int, default=None, help="The supervisor's process id.")
def restart(rolling: bool, pidfile: str | None, pid: int | None) -> None:
    """Rolling restart of a `henchman run -P N` supervisor (sends it USR2)."""
    if not rolling:
        raise fail("only rolling restarts are supported: use henchman restart --rolling")
    if (pidfile is None) == (pid is None):
        raise fail("give the supervisor with exactly one of --pidfile FILE or --pid PID")
    if pidfile is not None:
        try:
            pid = pidfiles.read(Path(pidfile))
        except ConfigError as exc:
            raise fail(str(exc)) from None
    assert pid is not None
    if pid <= 0:
        raise fail(f"--pid must be a positive process id, got {pid}")
    try:
        os.kill(pid, signal.SIGUSR2)
    except ProcessLookupError:
        raise fail(f"no process {pid} is running", EXIT_NOT_FOUND) from None
    except PermissionError:
        raise fail(f"not allowed to signal process {pid}") from None
    click.echo(f"sent USR2 to {pid}: rolling restart requested")
