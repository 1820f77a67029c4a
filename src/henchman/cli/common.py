"""What every admin command shares: opening the Redis client and printing plain tables.

Errors a user can fix (bad configuration, unreachable Redis) are one line on stderr and exit code
2, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
import redis

from henchman.config import Settings
from henchman.errors import ConfigError, HenchmanError, RedisUnavailable

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_FOUND",
    "admin_client",
    "fail",
    "format_duration",
    "format_table",
    "format_time",
    "open_admin_client",
]

#: Configuration or Redis problem, or bad usage (click uses 2 for usage errors too).
EXIT_ERROR = 2
#: The job or process named on the command line does not exist.
EXIT_NOT_FOUND = 1


def fail(message: str, code: int = EXIT_ERROR) -> click.exceptions.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.obj  # click hands the root context's obj down to every subcommand
    found = obj.get("settings") if isinstance(obj, dict) else None
    if isinstance(found, Settings):
        return found
    from henchman.config_loader import load_settings

    return load_settings(env=os.environ)


def open_admin_client(ctx: click.Context) -> redis.Redis:
    """A client that has answered PING, for the Redis the settings name; the caller closes it.

    Settings come from ``ctx.obj["settings"]`` (set by the main group) or, failing that, from
    the config file and environment. A configuration error or an unreachable Redis prints one
    line on stderr and exits with code 2.
    """
    try:
        settings = _settings(ctx)
        from henchman.redis.connection import Connector

        if settings.redis_url is None:
            _embedded_server(settings, no_start=_flag(ctx, "no_start"))
        return Connector(settings).check()
    except (ConfigError, RedisUnavailable, HenchmanError, TimeoutError) as exc:
        # TimeoutError: another process held the embedded server's start lock for too long.
        raise fail(str(exc)) from None


def _flag(ctx: click.Context, name: str) -> bool:
    obj = ctx.find_root().obj
    return bool(obj.get(name)) if isinstance(obj, dict) else False


def _embedded_server(settings: Settings, *, no_start: bool) -> None:
    """Make sure the embedded server of ``settings.home`` runs, saying so when this command is
    the one that starts it: an admin command run in the wrong directory would otherwise start a
    new, empty server there and report "No queues." as if that were the truth."""
    from henchman.redis.embedded import EmbeddedServer

    server = EmbeddedServer(settings.home)
    if server.status()["running"]:
        return
    shown = _shown_home(settings.home)
    if no_start:
        raise ConfigError(
            f"no embedded server runs in {shown} (--no-start): start it with "
            "`henchman server start`, or set REDIS_URL"
        )
    fresh = not (server.home / "appendonlydir").exists()
    server.ensure_running()
    what = "a new embedded server" if fresh else "the embedded server"
    tail = ": no jobs here yet" if fresh else ""
    click.echo(f"note: started {what} in {shown}{tail}", err=True)


def _shown_home(home: Path) -> str:
    """``./.henchman`` for a home under the working directory, else the absolute path."""
    absolute = home.resolve()
    try:
        return "./" + str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


@contextlib.contextmanager
def admin_client(ctx: click.Context) -> Iterator[redis.Redis]:
    """:func:`open_admin_client` as a context manager that closes the client and turns a
    connection lost mid-command into a one-line error (exit 2)."""
    client = open_admin_client(ctx)
    try:
        yield client
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise fail(f"lost the connection to Redis: {exc}") from None
    finally:
        client.close()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; numeric columns right-aligned."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [
        bool(cells) and all(isinstance(row[i], int | float) for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in cells)])


def format_duration(seconds: float) -> str:
    """``12.34s`` under a minute, then ``5m 3s``, ``2h 5m``, ``3d 4h``."""
    if seconds < 60:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"


def format_time(epoch: float | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or ``-``."""
    if epoch is None:
        return "-"
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
