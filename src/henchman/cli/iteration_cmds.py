"""``henchman iteration show|list|cancel``: iterable jobs' progress, over
:class:`henchman.api.IterationState`. Exit codes as for the other admin commands: 1 when the job
named has nothing in Redis, 2 for configuration or connection problems."""

from __future__ import annotations

import json
from typing import Any

import click

from henchman.api import IterationRecord, IterationState
from henchman.cli.common import EXIT_NOT_FOUND, admin_client, fail, format_duration, format_table

__all__ = ["iteration"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def iteration() -> None:
    """Inspect and cancel iterable jobs."""


@iteration.command()
@click.argument("jid")
@click.option("--errors", "max_errors", default=20, show_default=True, help="Failed rows shown.")
@json_option
@click.pass_context
def show(ctx: click.Context, jid: str, max_errors: int, as_json: bool) -> None:
    """Show executions, cursor, runtime and progress of iterable job JID."""
    with admin_client(ctx) as client:
        record = IterationState(client).find(jid)
    if record is None:
        raise fail(f"no iteration state for job {jid} (never ran, or completed)", EXIT_NOT_FOUND)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
        return
    for label, value in _summary(record):
        click.echo(f"{label + ':':<16}{value}")
    failed = record.ledger.failed
    if failed:
        click.echo()
        rows = [(row, " | ".join(messages)) for row, messages in list(failed.items())[:max_errors]]
        click.echo(format_table(("ROW", "ERRORS"), rows))
        if len(failed) > max_errors:
            click.echo(f"({max_errors} of {len(failed)} failed rows shown; use --errors)")


def _summary(record: IterationRecord) -> list[tuple[str, Any]]:
    lines: list[tuple[str, Any]] = [
        ("Job", record.jid),
        ("State", "running or waiting" if record.has_state else "no state (completed?)"),
        ("Executions", record.executions),
        ("Cursor", json.dumps(record.cursor)),
        ("Runtime", format_duration(record.runtime)),
    ]
    if record.cancelled_at is not None:
        lines.append(("Cancelled at", record.cancelled_at))
    lines += [
        ("Done ids", record.done_ids),
        ("Rows processed", record.ledger.processed),
        ("Rows failed", len(record.ledger.failed)),
    ]
    if record.files is not None:
        lines.append(("Offloaded files", ", ".join(record.files.files) or "-"))
    return lines


@iteration.command(name="list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@json_option
@click.pass_context
def list_jobs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List iterable jobs that are running or waiting to resume."""
    with admin_client(ctx) as client:
        records = IterationState(client).all(limit)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("No iterable jobs are running or waiting.")
        return
    rows = [
        (
            r.jid,
            r.executions,
            json.dumps(r.cursor)[:40],
            format_duration(r.runtime),
            "yes" if r.cancelled_at else "no",
        )
        for r in records
    ]
    click.echo(format_table(("JID", "EXECUTIONS", "CURSOR", "RUNTIME", "CANCELLED"), rows))


@iteration.command()
@click.argument("jid")
@click.pass_context
def cancel(ctx: click.Context, jid: str) -> None:
    """Cancel iterable job JID: it stops at its next run or state write (within ~5 s)."""
    with admin_client(ctx) as client:
        IterationState(client).cancel(jid)
    click.echo(f"Cancelled {jid}; the job stops at its next checkpoint.")
