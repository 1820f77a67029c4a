"""Admin commands: ``stats``, ``queues``, ``retry …``, ``dead …``, ``scheduled …``,
``enqueue``, ``quiet``, ``stop``. Thin over :mod:`henchman.api`; they read Ruby Sidekiq's data
too.

Exit codes: 0 success; 1 the job (jid) or process named does not exist; 2 bad usage, invalid
configuration or Redis unreachable (one line on stderr, no traceback).

Lists print aligned plain-text tables; ``--json`` prints the same data as JSON for scripts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import click
import redis

from henchman import keys, payload as wire
from henchman.api import (
    DeadSet,
    JobRecord,
    ProcessSet,
    Queue,
    RetrySet,
    ScheduledSet,
    SortedSet,
)
from henchman.cli import shard_views
from henchman.cli.batch_cmds import batches
from henchman.cli.common import (
    EXIT_NOT_FOUND,
    admin_client,
    fail,
    format_duration,
    format_table,
    format_time,
)
from henchman.cli.iteration_cmds import iteration
from henchman.cli.periodic_cmds import periodic
from henchman.queue_names import queue_name_problem

__all__ = [
    "COMMANDS", "dead", "enqueue", "plural", "queues", "quiet", "retry", "scheduled", "stats",
    "stop",
]  # fmt: skip

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
        summary = shard_views.summary(ctx, client)
        queue_rows = [_queue_dict(q) for q in shard_views.all_queues(ctx, client)]
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


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def queues(ctx: click.Context, as_json: bool) -> None:
    """List queues with size, latency and whether they are paused; pause or unpause one."""
    if ctx.invoked_subcommand is not None:
        return
    with admin_client(ctx) as client:
        rows = [_queue_dict(q) for q in shard_views.all_queues(ctx, client)]
    if as_json:
        _echo_json(rows)
    else:
        click.echo(_queue_table(rows) if rows else "No queues.")


@queues.command(name="clear")
@click.argument("name")
@click.option("--yes", "confirmed", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def clear_queue(ctx: click.Context, name: str, confirmed: bool) -> None:
    """Delete every job waiting in queue NAME (running jobs are not touched)."""
    with admin_client(ctx) as client:
        queue = shard_views.queue(ctx, client, name)
        size = queue.size
        if not size and not queue.registered:
            raise fail(f"no queue {name!r} (see `henchman queues`)", EXIT_NOT_FOUND)
        if not confirmed:
            if not sys.stdin.isatty():
                raise click.UsageError(f"clearing queue {name!r} without a terminal needs --yes")
            click.confirm(f"Delete {plural(size, 'job')} from queue {name!r}?", abort=True)
        deleted = queue.clear()
    click.echo(f"Deleted {plural(deleted, 'job')} from queue {name}.")
@queues.command(name="pause")
@click.argument("name")
@click.pass_context
def pause_queue(ctx: click.Context, name: str) -> None:
    """Stop workers fetching from queue NAME (its jobs stay queued, in order)."""
    with admin_client(ctx) as client:
        shard_views.queue(ctx, client, _queue_name(name)).pause()
    click.echo(f"Paused queue {name}: workers stop fetching from it within a second.")


@queues.command(name="unpause")
@click.argument("name")
@click.pass_context
def unpause_queue(ctx: click.Context, name: str) -> None:
    """Let workers fetch from queue NAME again."""
    with admin_client(ctx) as client:
        shard_views.queue(ctx, client, _queue_name(name)).unpause()
    click.echo(f"Unpaused queue {name}.")


def _queue_name(name: str) -> str:
    if not name.strip() or any(ch.isspace() for ch in name):
        raise fail(f"invalid queue name {name!r}")
    return name


def _queue_dict(queue: Queue) -> dict[str, Any]:
    shard = getattr(queue, "shard", None)  # a sharded setup's queues say where they live
    return {
        "name": queue.name,
        "size": queue.size,
        "latency": queue.latency,
        "paused": queue.paused,
        **({"shard": shard} if shard is not None else {}),
    }


def _queue_table(rows: list[dict[str, Any]]) -> str:
    table = [
        (r["name"], r["size"], format_duration(r["latency"]), "yes" if r["paused"] else "no")
        + ((r["shard"],) if "shard" in r else ())
        for r in rows
    ]
    sharded = ("SHARD",) if any("shard" in r for r in rows) else ()
    return format_table(("QUEUE", "SIZE", "LATENCY", "PAUSED", *sharded), table)


# -- retry and dead sets ---------------------------------------------------------------------


def _job_set_group(
    name: str,
    title: str,
    opener: Callable[[redis.Redis], SortedSet],
    *,
    push_verb: str = "retry",
) -> click.Group:
    """The ``list``/``retry``/``delete`` group for one sorted set. For the schedule the push
    command is ``enqueue`` (run now, unchanged); for retries and the dead set it is ``retry``
    (Sidekiq's manual retry, which decrements ``retry_count``)."""
    past, doing = {"retry": ("Retried", "Retrying"), "enqueue": ("Enqueued", "Enqueueing")}[
        push_verb
    ]

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
            job_set = shard_views.open_set(ctx, client, opener)
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

    @group.command(name=push_verb, help=f"Push job JID (or --all) to its queue now ({title}).")
    @click.argument("jid", required=False)
    @click.option("--all", "every", is_flag=True, help="Every job in the set.")
    @click.pass_context
    def push_jobs(ctx: click.Context, jid: str | None, every: bool) -> None:
        _need_one(jid, every)
        decrement = push_verb == "retry"
        with admin_client(ctx) as client:
            job_set = shard_views.open_set(ctx, client, opener)
            if every:
                action = job_set.retry_all if decrement else job_set.add_all_to_queue
                count = _with_progress(job_set.size, doing, action)
                click.echo(f"{past} {plural(count, 'job')}.")
                return
            record = _find(job_set, title, jid)
            if not (job_set.retry(record) if decrement else job_set.add_to_queue(record)):
                raise _gone(jid, title)
        click.echo(f"{past} {jid}.")

    @group.command(name="delete")
    @click.argument("jid", required=False)
    @click.option("--all", "every", is_flag=True, help="Delete every job in the set.")
    @click.pass_context
    def delete_jobs(ctx: click.Context, jid: str | None, every: bool) -> None:
        """Delete job JID (or --all) for good."""
        _need_one(jid, every)
        with admin_client(ctx) as client:
            job_set = shard_views.open_set(ctx, client, opener)
            if every:
                click.echo(f"Deleted {plural(job_set.clear(), 'job')}.")
            elif job_set.delete(_find(job_set, title, jid)):
                click.echo(f"Deleted {jid}.")
            else:
                raise _gone(jid, title)

    return group


def _with_progress(total: int, label: str, action: Callable[..., int]) -> int:
    """Run a bulk ``action(progress=...)`` under a progress bar on stderr (like ``enqueue
    --bulk``); click hides the bar when stderr is not a terminal."""
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        return action(progress=bar.update)


retry = _job_set_group("retry", "retry set", RetrySet)
dead = _job_set_group("dead", "dead set", DeadSet)
scheduled = _job_set_group("scheduled", "schedule", ScheduledSet, push_verb="enqueue")


@retry.command(name="kill")
@click.argument("jid", required=False)
@click.option("--all", "every", is_flag=True, help="Kill every job in the retry set.")
@click.pass_context
def kill_job(ctx: click.Context, jid: str | None, every: bool) -> None:
    """Move job JID (or --all) from the retry set to the dead set."""
    _need_one(jid, every)
    with admin_client(ctx) as client:
        retries: Any = shard_views.open_set(ctx, client, RetrySet)  # kill/kill_all: one or all
        if every:
            count = _with_progress(retries.size, "Killing", retries.kill_all)
            click.echo(f"Killed {plural(count, 'job')}.")
            return
        if not retries.kill(_find(retries, "retry set", jid)):
            raise _gone(jid, "retry set")
    click.echo(f"Killed {jid}.")


def plural(count: int, noun: str) -> str:
    """``1 job``, ``2 jobs``, ``1 process``, ``3 processes``."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {noun}es" if noun.endswith("s") else f"{count:,} {noun}s"


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
    problem = queue_name_problem(queue)
    if problem is not None:
        raise click.BadParameter(f"{queue!r}: a queue name {problem}", param_hint="--queue")
    if bulk is not None and json_args is not None:
        raise click.UsageError("give JSON_ARGS or --bulk, not both")
    if bulk is None:
        jid, raw = _payload(name, _parse_args(json_args or "[]", "JSON_ARGS"), queue)
        with admin_client(ctx) as client:
            _push(shard_views.queue_client(ctx, client, queue), queue, [raw])
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
        target = shard_views.queue_client(ctx, client, queue)
        for start in range(0, len(payloads), _BULK_SLICE):
            chunk = payloads[start : start + _BULK_SLICE]
            _push(target, queue, chunk)
            bar.update(len(chunk))
    click.echo(f"Enqueued {plural(len(payloads), 'job')} to queue {queue}.")


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
    """(jid, encoded payload) for one job; ``retry`` is always written (Sidekiq drops a job
    without it whose class it cannot load)."""
    built = wire.build(name, args, {"queue": queue, "retry": True}, now=time.time())
    return built["jid"], wire.encode(built)


def _push(client: redis.Redis, queue: str, payloads: list[bytes]) -> None:
    """``SADD queues`` + ``LPUSH queue:<q>`` in one pipeline, as every client push does."""
    layout = keys.layout_of(client)
    pipe = client.pipeline(transaction=False)
    pipe.sadd(layout.QUEUES, queue)
    pipe.lpush(layout.queue(queue), *payloads)
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
                click.echo(f"Asked {plural(every(processes), 'process')} to {name}.")
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
COMMANDS: list[click.Command] = [
    stats, queues, retry, dead, scheduled, enqueue, quiet, stop, iteration, batches,
    periodic,
]  # fmt: skip
