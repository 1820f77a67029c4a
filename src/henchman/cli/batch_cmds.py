"""``henchman batches [BID]``: list batches newest first, or show one (the
same figures as the Web UI's batch pages), over :mod:`henchman.api.batches`. Exit code 1 when
the batch named does not exist (unknown, or expired), 2 for configuration or connection
problems."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from henchman.api import BatchSet, BatchStatus
from henchman.batches.model import Snapshot
from henchman.cli.common import EXIT_NOT_FOUND, admin_client, fail, format_table
from henchman.errors import BatchError

__all__ = ["batches"]


def _when(value: float | None) -> str:
    if value is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))


def _state(snap: Snapshot) -> str:
    if snap.success_at is not None:
        return "success"
    if snap.complete_at is not None:
        return "complete"
    return "dead" if snap.death_at is not None else "pending"


def _progress(snap: Snapshot) -> str:
    done = snap.total - snap.pending
    return f"{done}/{snap.total}" if snap.total else "0/0"


@click.command()
@click.argument("bid", required=False)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def batches(ctx: click.Context, bid: str | None, limit: int, as_json: bool) -> None:
    """List batches (newest first), or show batch BID."""
    with admin_client(ctx) as client:
        if bid is None:
            found = BatchSet(client).page(0, limit)
            if as_json:
                out = [BatchStatus(s.bid, client).data() for s in found]
                click.echo(json.dumps(out, indent=2, ensure_ascii=False))
                return
            rows = [
                (s.bid, _when(s.created_at), s.description or "", _progress(s), s.failures,
                 _state(s))
                for s in found
            ]  # fmt: skip
            if not rows:
                click.echo("no batches")
                return
            headers = ("BID", "CREATED", "DESCRIPTION", "DONE", "FAILURES", "STATE")
            click.echo(format_table(headers, rows))
            return
        try:
            status = BatchStatus(bid, client)
        except BatchError as exc:
            raise fail(str(exc), EXIT_NOT_FOUND) from None
    if as_json:
        click.echo(json.dumps(status.data(), indent=2, ensure_ascii=False))
        return
    for label, value in _summary(status.snapshot):
        click.echo(f"{label + ':':<16}{value}")


def _summary(snap: Snapshot) -> list[tuple[str, Any]]:
    lines: list[tuple[str, Any]] = [
        ("Batch", snap.bid),
        ("Description", snap.description or "-"),
        ("State", _state(snap)),
        ("Total", snap.total),
        ("Pending", snap.pending),
        ("Failures", snap.failures),
        ("Created", _when(snap.created_at)),
        ("Complete", _when(snap.complete_at)),
        ("Success", _when(snap.success_at)),
        ("Death", _when(snap.death_at)),
        ("Expires", _when(snap.expires_at)),
        ("Parent", snap.parent_bid or "-"),
        ("Children", ", ".join(snap.child_bids) or "-"),
        ("Callback queue", snap.callback_queue or "-"),
    ]
    for event, names in snap.callbacks.items():
        lines.append((f"On {event}", ", ".join(names)))
    if snap.failed_jids:
        lines.append(("Failed jids", ", ".join(snap.failed_jids)))
    if snap.dead_jids:
        lines.append(("Dead jids", ", ".join(snap.dead_jids)))
    return lines
