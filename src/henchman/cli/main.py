"""The ``henchman`` command. Subcommands are thin: they build settings and call
:mod:`henchman.server` or :mod:`henchman.api`.

Exit codes: 0 success; 1 the command ran and found a problem (a job not found, a doctor FAIL,
an app that raises while importing); 2 bad usage or configuration, or Redis unreachable (one-line
message, no traceback); 3 ``server status`` when the embedded server is not running.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from henchman.cli.doctor_cmd import doctor
from henchman.cli.restart_cmd import restart
from henchman.cli.run_cmd import run
from henchman.cli.server_cmd import server
from henchman.cli.web_cmd import web


class OneLineErrors(click.Group):
    """The root group: every error, click's usage errors included, is one line on stderr with
    the same ``error:`` prefix as henchman's own (click would print the usage and a ``Try``
    hint first: four lines for a typo in a JSON argument)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {_one_line(exc.format_message())}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort as exc:
            interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
            click.echo("error: interrupted" if interrupted else "error: aborted", err=True)
            sys.exit(130 if interrupted else 1)
        # without standalone mode click returns the code of a click.exceptions.Exit
        sys.exit(result if isinstance(result, int) else 0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="henchman")
@click.option(
    "--no-start",
    is_flag=True,
    envvar="HENCHMAN_NO_START",
    help="Never start the embedded server: fail if none runs (for scripts).",
)
@click.pass_context
def main(ctx: click.Context, no_start: bool) -> None:
    """henchman: background jobs for Python on Redis/Valkey."""
    ctx.ensure_object(dict)
    ctx.obj["no_start"] = no_start


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
