"""``henchman server status|start|stop``: manage the embedded Valkey server.

The server belongs to the state directory ``$HENCHMAN_HOME`` (default ``./.henchman``). Other
henchman commands start it on demand, so ``start`` is only needed to warm it up ahead of time.

Exit codes (``status`` follows ``systemctl status``/LSB so scripts can test it):

- ``status``: 0 running, 3 not running.
- ``start``: 0 running (started now or already running), 2 could not start.
- ``stop``: 0 stopped or was not running (idempotent, like ``systemctl stop``, so teardown
  scripts need no ``|| true``), 2 could not stop.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from henchman.errors import HenchmanError
from henchman.redis.embedded import EmbeddedServer

__all__ = ["server"]

EXIT_NOT_RUNNING = 3
EXIT_ERROR = 2


def configured_home() -> Path:
    """The state directory from the config sources (file, ``HENCHMAN_HOME``), read when a
    command runs; an invalid config file falls back to the environment so the server can still
    be managed."""
    from henchman.config_loader import load_settings
    from henchman.errors import ConfigError

    try:
        return load_settings(env=os.environ).home
    except ConfigError:
        return Path(os.environ.get("HENCHMAN_HOME") or ".henchman")


def embedded_server() -> EmbeddedServer:
    """The embedded server of the configured state directory."""
    return EmbeddedServer(configured_home())


@click.group()
def server() -> None:
    """Manage the embedded Valkey server in $HENCHMAN_HOME (default ./.henchman)."""


@server.command()
def status() -> None:
    """Show whether the server runs. Exit 0 if running, 3 if not."""
    info = embedded_server().status()
    if not info["running"]:
        click.echo(f"not running (home {info['home']})")
        raise click.exceptions.Exit(EXIT_NOT_RUNNING)
    click.echo(f"running: pid {info['pid']}, valkey {info['version']}, {info['url']}")


@server.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for PING.")
def start(timeout: float) -> None:
    """Start the server unless it is already running."""
    srv = embedded_server()
    was_running = srv.status()["running"]
    try:
        url = srv.ensure_running(timeout=timeout)
    except (HenchmanError, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from exc
    verb = "already running" if was_running else "started"
    click.echo(f"{verb}: pid {srv.status()['pid']}, {url}")


@server.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for exit.")
def stop(timeout: float) -> None:
    """Stop the server (its AOF is fsynced first). Exit 0 even if it was not running."""
    srv = embedded_server()
    pid = srv.status()["pid"]
    try:
        stopped = srv.stop(timeout=timeout)
    except (HenchmanError, TimeoutError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from exc
    click.echo(f"stopped (pid {pid})" if stopped else f"not running (home {srv.home})")
