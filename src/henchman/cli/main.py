"""The ``henchman`` command (SPEC §1.3). Subcommands are thin: they build settings and call
:mod:`henchman.server` or :mod:`henchman.api`.

Exit codes: 0 success; 1 the command ran and found a problem (a job not found, a doctor FAIL,
an app that raises while importing); 2 bad usage or configuration, or Redis unreachable (one-line
message, no traceback); 3 ``server status`` when the embedded server is not running.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from henchman.cli.doctor_cmd import doctor
from henchman.cli.restart_cmd import restart
from henchman.cli.run_cmd import run
from henchman.cli.server_cmd import server
from henchman.cli.web_cmd import web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="henchman")
@click.pass_context
def main(ctx: click.Context) -> None:
    """henchman: background jobs for Python on Redis/Valkey."""
    ctx.ensure_object(dict)


main.add_command(run)
main.add_command(run, name="worker")
main.add_command(server)
main.add_command(doctor)
main.add_command(web)
main.add_command(restart)


def _add_optional_commands() -> None:
    try:
        from henchman.cli.admin_cmds import COMMANDS
    except ImportError:  # pragma: no cover - during development of the admin commands
        return
    for command in COMMANDS:
        main.add_command(command)


_add_optional_commands()


def entry(argv: list[str] | None = None) -> Any:
    """Console entry point with the documented exit codes."""
    try:
        return main.main(args=argv, prog_name="henchman", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


__all__ = ["entry", "main"]
