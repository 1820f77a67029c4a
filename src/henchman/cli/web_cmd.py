"""``henchman web``: serve the Web UI standalone with uvicorn.

Binds 127.0.0.1 unless ``--host`` says otherwise; binding anything else without ``--password``
prints a warning, since whoever reaches the port can delete jobs. Answers only requests whose
``Host`` names it as it is served (loopback names, the ``--host`` value, ``--allowed-host``), so a
DNS-rebinding page cannot reach it. ``--password`` on the command line is visible to every user
in ``ps``: a warning points to ``HENCHMAN_WEB_PASSWORD``.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
from click.core import ParameterSource

from henchman.cli.common import fail

__all__ = ["served_hosts", "web"]

DEFAULT_PORT = 7433
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def served_hosts(host: str, allowed: tuple[str, ...]) -> list[str]:
    """The ``Host`` names the standalone UI answers: loopback names, the address it binds
    (unless a wildcard such as 0.0.0.0, which names no host) and ``--allowed-host`` values."""
    # Imported here: henchman.web needs the 'web' extra, and every other command must work
    # without it (``pip install henchman``).
    from henchman.web.origin import LOOPBACK_HOSTS

    names = [*LOOPBACK_HOSTS, *([] if host in _WILDCARD_BINDS else [host]), *allowed]
    return list(dict.fromkeys(names))


def load_extension(target: str) -> Any:
    """The object named ``MODULE:ATTR`` (a ``WebExtension``)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise click.BadParameter(f"{target!r}: expected MODULE:ATTR", param_hint="--extension")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise click.BadParameter(f"{target!r}: {exc}", param_hint="--extension") from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("-p", "--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option(
    "--password",
    envvar="HENCHMAN_WEB_PASSWORD",
    default=None,
    help="Ask for this password (HTTP Basic, any user name). Env: HENCHMAN_WEB_PASSWORD.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Also answer requests for this Host name (repeatable; .example.com matches subdomains, "
    "* any name). Loopback names and the --host value are always allowed.",
)
@click.option("--read-only", is_flag=True, help="Show everything, change nothing.")
@click.option(
    "--extension", "extensions", multiple=True, help="MODULE:ATTR of a WebExtension (repeatable)."
)
@click.option("--poll-interval", default=5.0, show_default=True, type=click.FloatRange(min=1))
@click.option("-C", "--config", "config_file", default=None, help="YAML or TOML config file.")
@click.option("-e", "--env", "environment", default=None, help="Environment section to use.")
def web(
    host: str,
    port: int,
    password: str | None,
    allowed_hosts: tuple[str, ...],
    read_only: bool,
    extensions: tuple[str, ...],
    poll_interval: float,
    config_file: str | None,
    environment: str | None,
) -> None:
    """Serve the Web UI (default http://127.0.0.1:7433/)."""
    source = click.get_current_context().get_parameter_source("password")
    if password and source == ParameterSource.COMMANDLINE:
        click.echo(
            "warning: --password is visible to other users of this machine (ps); "
            "set HENCHMAN_WEB_PASSWORD instead",
            err=True,
        )
    try:
        import uvicorn

        from henchman.web import create_app
    except ImportError as exc:
        raise fail(
            f"henchman web needs the 'web' extra: pip install 'henchman[web]' ({exc})"
        ) from None
    from henchman.cli.run_cmd import load_cli_settings
    from henchman.errors import HenchmanError, RedisUnavailable
    from henchman.redis.connection import Connector

    settings = load_cli_settings(config_file=config_file, environment=environment, flags={})
    try:
        connector = Connector(settings)
        client = connector.check()
    except (RedisUnavailable, HenchmanError, TimeoutError) as exc:
        raise fail(str(exc)) from None
    app = create_app(
        settings, password=password or None, read_only=read_only, client=client,
        extensions=[load_extension(e) for e in extensions], poll_interval=poll_interval,
        allowed_hosts=served_hosts(host, allowed_hosts),
    )  # fmt: skip
    from henchman.web.origin import LOOPBACK_HOSTS

    if host not in LOOPBACK_HOSTS and not password:
        click.echo(
            f"warning: listening on {host} without --password: anyone who can reach this port "
            "can delete and retry jobs",
            err=True,
        )
    if host in _WILDCARD_BINDS and not allowed_hosts:
        click.echo(
            f"note: listening on {host}: only requests for 127.0.0.1, localhost and [::1] are "
            "answered; add --allowed-host NAME for the names users reach this machine by",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    mode = ", read-only" if read_only else ""
    click.echo(f"henchman web on http://{shown}:{port}/ (Redis: {connector.display_url}{mode})")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
