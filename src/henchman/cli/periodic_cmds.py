"""``henchman periodic [list|show|pause|unpause|enqueue]``: periodic schedules, over
:class:`henchman.api.PeriodicSet`. ``list`` shows each schedule with its next run in its own zone
and its last run; the schedules are those the current leader published. Exit codes as for the
other admin commands: 1 when the schedule named does not exist, 2 for configuration, connection
or refused actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from henchman.api import PeriodicRecord, PeriodicSet, ProcessSet
from henchman.cli.common import EXIT_NOT_FOUND, admin_client, fail, format_table
from henchman.errors import ConfigError

__all__ = ["periodic"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group(invoke_without_command=True)
@click.pass_context
def periodic(ctx: click.Context) -> None:
    """List periodic jobs with their next and last runs; pause, unpause, enqueue now."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_schedules)


@periodic.command(name="list")
@json_option
@click.pass_context
def list_schedules(ctx: click.Context, as_json: bool = False) -> None:
    """Every schedule with its next run (in its zone) and last run."""
    with admin_client(ctx) as client:
        records = PeriodicSet(client).all(history=10)
        leader = ProcessSet(client).leader
    if as_json:
        data = {"leader": leader, "schedules": [r.to_dict() for r in records]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not records:
        click.echo("No periodic jobs (none registered, or no worker has led yet).")
        return
    click.echo(format_table(("ID", "CRON", "ZONE", "JOB", "QUEUE", "NEXT RUN", "LAST RUN", "STATE"),
                            [_row(r) for r in records]))  # fmt: skip
    click.echo(f"Leader: {leader or 'none (no worker holds the lease)'}")


@periodic.command()
@click.argument("schedule_id")
@json_option
@click.pass_context
def show(ctx: click.Context, schedule_id: str, as_json: bool) -> None:
    """One schedule with its run history (newest first)."""
    with admin_client(ctx) as client:
        record = PeriodicSet(client).find(schedule_id)
    if record is None:
        raise fail(f"no periodic job {schedule_id!r}", EXIT_NOT_FOUND)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=2, ensure_ascii=False))
        return
    for label, value in _row_labels(record):
        click.echo(f"{label + ':':<11}{value}")
    rows = [(_local(r.tick, record.schedule.tz), r.kind, r.count, r.jid or "-")
            for r in record.history]  # fmt: skip
    click.echo()
    click.echo(format_table(("TICK", "KIND", "TICKS", "JID"), rows) if rows else "No runs yet.")


@periodic.command()
@click.argument("schedule_id")
@click.pass_context
def pause(ctx: click.Context, schedule_id: str) -> None:
    """Pause a schedule: its ticks are passed over until it is unpaused."""
    with admin_client(ctx) as client:
        if not PeriodicSet(client).pause(schedule_id):
            raise fail(f"no periodic job {schedule_id!r}", EXIT_NOT_FOUND)
    click.echo(f"Paused {schedule_id}.")


@periodic.command()
@click.argument("schedule_id")
@click.pass_context
def unpause(ctx: click.Context, schedule_id: str) -> None:
    """Resume a paused schedule from its next tick."""
    with admin_client(ctx) as client:
        if not PeriodicSet(client).unpause(schedule_id):
            raise fail(f"no periodic job {schedule_id!r}", EXIT_NOT_FOUND)
    click.echo(f"Unpaused {schedule_id}.")


@periodic.command(name="enqueue")
@click.argument("schedule_id")
@click.pass_context
def enqueue_now(ctx: click.Context, schedule_id: str) -> None:
    """Enqueue one run of a schedule now, outside its timetable."""
    with admin_client(ctx) as client:
        try:
            jid = PeriodicSet(client).enqueue_now(schedule_id)
        except ConfigError as exc:
            raise fail(str(exc)) from None
    if jid is None:
        raise fail(f"no periodic job {schedule_id!r}", EXIT_NOT_FOUND)
    click.echo(f"Enqueued {schedule_id} as {jid}.")


def _local(epoch: float | None, tz: str) -> str:
    if epoch is None:
        return "-"
    from henchman.cron import zone

    return datetime.fromtimestamp(epoch, UTC).astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _row(record: PeriodicRecord) -> tuple[str, ...]:
    s, last = record.schedule, record.last_run
    return (
        s.id, s.cron, s.tz, s.job, s.queue,
        record.next_run.strftime("%Y-%m-%d %H:%M:%S") if record.next_run else "-",
        _local(last.tick, s.tz) if last else "-",
        "paused" if record.paused else "active",
    )  # fmt: skip


def _row_labels(record: PeriodicRecord) -> list[tuple[str, str]]:
    s = record.schedule
    return [
        ("Id", s.id), ("Cron", s.cron), ("Zone", s.tz), ("Job", s.job),
        ("Args", json.dumps(list(s.args))), ("Queue", s.queue), ("Missed", s.missed),
        ("State", "paused" if record.paused else "active"),
        ("Next run", record.next_run.isoformat() if record.next_run else "-"),
    ]  # fmt: skip
