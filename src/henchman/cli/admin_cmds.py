"""Admin commands (SPEC §1.3): ``stats``, ``queues``, ``retry …``, ``dead …``, ``enqueue``,
``quiet``, ``stop``. Thin over :mod:`henchman.api`; they read Ruby Sidekiq's data too (SPEC §17).

Exit codes: 0 success; 1 the job (jid) or process named does not exist; 2 bad usage, invalid
configuration or Redis unreachable (one line on stderr, no traceback).

Lists print aligned plain-text tables; ``--json`` prints the same data as JSON for scripts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Any

import click
import redis

from henchman import keys, payload as wire
from henchman.api import DeadSet, JobRecord, ProcessSet, Queue, RetrySet, SortedSet, Stats
from henchman.cli.common import (
    EXIT_NOT_FOUND,
    admin_client,
    fail,
    format_duration,
    format_table,
    format_time,
)
from henchman.cli.iteration_cmds import iteration

__all__ = ["COMMANDS", "dead", "enqueue", "queues", "quiet", "retry", "stats", "stop"]

_BULK_SLICE = 1000
_ERROR_WIDTH = 60

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- stats and queues ------------------------------------------------------------------------


@click.command()
@json_option
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Show counts, queues (size, latency) and live processes."""
    with admin_client(ctx) as client:
        summary = Stats(client).summary()
        queue_rows = [_queue_dict(q) for q in Queue.all(client)]
        processes = ProcessSet(client).all()
    if as_json:
        _echo_json(
            {
                "stats": summary.to_dict(),
                "queues": queue_rows,
                "processes": [p.to_dict() for p in processes],
            }
        )
        return
    for label, value in (
        ("Processed", summary.processed),
        ("Failed", summary.failed),
        ("Busy", summary.workers_size),
        ("Enqueued", summary.enqueued),
        ("Scheduled", summary.scheduled_size),
        ("Retries", summary.retry_size),
        ("Dead", summary.dead_size),
        ("Processes", summary.processes_size),
        ("Recovered", summary.recovered),
    ):
        click.echo(f"{label + ':':<11}{value:>12,}")
    click.echo(f"Default queue latency: {format_duration(summary.default_queue_latency)}")
    click.echo()
    click.echo(_queue_table(queue_rows) if queue_rows else "No queues.")
    click.echo()
    if not processes:
        click.echo("No live processes.")
        return
    now = time.time()
    rows = [
        (
            p.identity,
            p.tag or "-",
            f"{p.busy}/{p.concurrency}",
            "yes" if p.quiet else "no",
            format_duration(max(now - p.beat, 0.0)) + " ago" if p.beat is not None else "-",
            p.placement or "-",
        )
        for p in processes
    ]
    click.echo(format_table(("PROCESS", "TAG", "BUSY", "QUIET", "BEAT", "PLACEMENT"), rows))


@click.command()
@json_option
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> None:
    """List queues with size, latency and whether they are paused."""
    with admin_client(ctx) as client:
        rows = [_queue_dict(q) for q in Queue.all(client)]
    if as_json:
        _echo_json(rows)
    else:
        click.echo(_queue_table(rows) if rows else "No queues.")


def _queue_dict(queue: Queue) -> dict[str, Any]:
    return {
        "name": queue.name,
        "size": queue.size,
        "latency": queue.latency,
        "paused": queue.paused,
    }


def _queue_table(rows: list[dict[str, Any]]) -> str:
    table = [
        (r["name"], r["size"], format_duration(r["latency"]), "yes" if r["paused"] else "no")
        for r in rows
    ]
    return format_table(("QUEUE", "SIZE", "LATENCY", "PAUSED"), table)


# -- retry and dead sets ---------------------------------------------------------------------


def _job_set_group(
    name: str, title: str, opener: Callable[[redis.Redis], SortedSet]
) -> click.Group:
    """The ``list``/``retry``/``delete`` group for one sorted set (plus ``kill`` for retries)."""

    @click.group(name=name, help=f"Inspect and act on the {title}.")
    def group() -> None:
        pass

    @group.command(name="list")
    @click.option("--limit", default=25, show_default=True, type=click.IntRange(min=1))
    @json_option
    @click.pass_context
    def list_jobs(ctx: click.Context, limit: int, as_json: bool) -> None:
        """List jobs, newest first."""
        with admin_client(ctx) as client:
            job_set = opener(client)
            records = job_set.page(0, limit)
            total = job_set.size
        if as_json:
            _echo_json([r.to_dict() for r in records])
            return
        if not records:
            click.echo(f"The {title} is empty.")
            return
        click.echo(format_table(("JID", "CLASS", "QUEUE", "AT (UTC)", "RETRIES", "ERROR"),
                                [_job_row(r) for r in records]))  # fmt: skip
        if total > len(records):
            click.echo(f"({len(records)} of {total} shown; use --limit)")

    @group.command(name="retry")
    @click.argument("jid", required=False)
    @click.option("--all", "every", is_flag=True, help="Retry every job in the set.")
    @click.pass_context
    def retry_jobs(ctx: click.Context, jid: str | None, every: bool) -> None:
        """Push job JID (or --all) back to its queue now."""
        _need_one(jid, every)
        with admin_client(ctx) as client:
            job_set = opener(client)
            if every:
                click.echo(f"Retried {job_set.retry_all()} jobs.")
            elif job_set.retry(_find(job_set, title, jid)):
                click.echo(f"Retried {jid}.")
            else:
                raise _gone(jid, title)

    @group.command(name="delete")
    @click.argument("jid", required=False)
    @click.option("--all", "every", is_flag=True, help="Delete every job in the set.")
    @click.pass_context
    def delete_jobs(ctx: click.Context, jid: str | None, every: bool) -> None:
        """Delete job JID (or --all) for good."""
        _need_one(jid, every)
        with admin_client(ctx) as client:
            job_set = opener(client)
            if every:
                click.echo(f"Deleted {job_set.clear()} jobs.")
            elif job_set.delete(_find(job_set, title, jid)):
                click.echo(f"Deleted {jid}.")
            else:
                raise _gone(jid, title)

    return group


retry = _job_set_group("retry", "retry set", RetrySet)
dead = _job_set_group("dead", "dead set", DeadSet)


@retry.command(name="kill")
@click.argument("jid")
@click.pass_context
def kill_job(ctx: click.Context, jid: str) -> None:
    """Move job JID from the retry set to the dead set."""
    with admin_client(ctx) as client:
        retries = RetrySet(client)
        if not retries.kill(_find(retries, "retry set", jid)):
            raise _gone(jid, "retry set")
    click.echo(f"Killed {jid}.")


def _need_one(jid: str | None, every: bool) -> None:
    if (jid is None) == (not every):
        raise click.UsageError("give either a JID or --all")


def _find(job_set: SortedSet, title: str, jid: str | None) -> JobRecord:
    record = job_set.find_job(jid or "")
    if record is None:
        raise fail(f"no job {jid} in the {title}", EXIT_NOT_FOUND)
    return record


def _gone(jid: str | None, title: str) -> click.exceptions.Exit:
    return fail(f"job {jid} left the {title} before it could be changed", EXIT_NOT_FOUND)


def _job_row(record: JobRecord) -> tuple[str, ...]:
    if not record.ok:
        return ("-", "-", "-", format_time(record.score), "-", f"unreadable: {record.error}")
    error = f"{record.error_class}: {record.error_message}" if record.error_class else ""
    if len(error) > _ERROR_WIDTH:
        error = error[: _ERROR_WIDTH - 1] + "…"
    count = record.retry_count
    return (record.jid, record.display_class, record.queue, format_time(record.score),
            "-" if count is None else str(count), error.replace("\n", " "))  # fmt: skip


# -- enqueue ---------------------------------------------------------------------------------


@click.command()
@click.argument("name")
@click.argument("json_args", required=False)
@click.option("--queue", "-q", default="default", show_default=True, help="Queue to push to.")
@click.option(
    "--bulk",
    type=click.File("r", encoding="utf-8"),
    help="File with one JSON array of args per line; pushes one job per line.",
)
@click.pass_context
def enqueue(
    ctx: click.Context, name: str, json_args: str | None, queue: str, bulk: IO[str] | None
) -> None:
    """Push job NAME (its wire name, e.g. a Ruby class) with JSON_ARGS, a JSON array."""
    if not name or not queue:
        raise click.UsageError("NAME and --queue must not be empty")
    if bulk is not None and json_args is not None:
        raise click.UsageError("give JSON_ARGS or --bulk, not both")
    if bulk is None:
        jid, raw = _payload(name, _parse_args(json_args or "[]", "JSON_ARGS"), queue)
        with admin_client(ctx) as client:
            _push(client, queue, [raw])
        click.echo(jid)
        return
    # Every line is checked before anything is pushed: a bad line 90,000 pushes nothing.
    where = getattr(bulk, "name", "FILE")
    payloads = [
        _payload(name, _parse_args(text, f"{where} line {number}"), queue)[1]
        for number, text in enumerate(bulk, 1)
        if text.strip()
    ]
    with (
        admin_client(ctx) as client,
        click.progressbar(length=len(payloads), label="Enqueueing") as bar,
    ):
        for start in range(0, len(payloads), _BULK_SLICE):
            chunk = payloads[start : start + _BULK_SLICE]
            _push(client, queue, chunk)
            bar.update(len(chunk))
    click.echo(f"Enqueued {len(payloads)} jobs to queue {queue}.")


def _parse_args(text: str, where: str) -> list[Any]:
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(args, list):
        raise click.BadParameter(f'{where} must be a JSON array of arguments, e.g. [1, "a"]')
    try:
        wire.check_args(args)
    except TypeError as exc:
        raise click.BadParameter(f"{where}: {exc}") from None
    return args


def _payload(name: str, args: list[Any], queue: str) -> tuple[str, bytes]:
    """(jid, encoded payload) for one job; ``retry`` is always written (SPEC §17)."""
    built = wire.build(name, args, {"queue": queue, "retry": True}, now=time.time())
    return built["jid"], wire.encode(built)


def _push(client: redis.Redis, queue: str, payloads: list[bytes]) -> None:
    """``SADD queues`` + ``LPUSH queue:<q>`` in one pipeline, as every client push does."""
    pipe = client.pipeline(transaction=False)
    pipe.sadd(keys.QUEUES, queue)
    pipe.lpush(keys.queue(queue), *payloads)
    pipe.execute()


# -- process control -------------------------------------------------------------------------


def _signal_command(
    name: str,
    doc: str,
    one: Callable[[ProcessSet, str], None],
    every: Callable[[ProcessSet], int],
) -> click.Command:
    @click.command(name=name, help=f"{doc} IDENTITY, or every live process with 'all'.")
    @click.argument("identity")
    @click.pass_context
    def command(ctx: click.Context, identity: str) -> None:
        with admin_client(ctx) as client:
            processes = ProcessSet(client)
            if identity == "all":
                click.echo(f"Asked {every(processes)} processes to {name}.")
                return
            if processes.find(identity) is None:
                raise fail(f"no live process {identity} (see `henchman stats`)", EXIT_NOT_FOUND)
            one(processes, identity)
        click.echo(f"Asked {identity} to {name}; it acts at its next heartbeat.")

    return command


quiet = _signal_command(
    "quiet", "Stop fetching new jobs in process", ProcessSet.quiet, ProcessSet.quiet_all
)
stop = _signal_command("stop", "Shut down gracefully process", ProcessSet.stop, ProcessSet.stop_all)

#: The admin commands, for the main group to register.
COMMANDS: list[click.Command] = [stats, queues, retry, dead, enqueue, quiet, stop, iteration]
