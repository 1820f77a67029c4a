"""Cluster layout: one fetch round as one ``fetch.lua`` call per queue, in the round's order.

``fetch.lua`` moves jobs from several queues in one script, which needs every queue in one hash
slot. In the cluster layout each queue (with its working lists) is its own slot, so a round
calls the same script once per queue, in weight order, until the free slots are filled; each call
carries the acknowledgements of its own queue. Jobs whose final write is its own script (a retry
or dead record) run that script first, one call each (every such script's keys are in the job's
queue slot). The reply has ``fetch.lua``'s shape (pair index into ``order``, raw payload, ...), so
the fetcher turns it into units the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

import redis
from redis.exceptions import NoScriptError

from henchman import keys
from henchman.redis.cluster_client import is_cluster_client, send_all

_log = logging.getLogger("henchman.fetch")


class ScriptRunner(Protocol):
    def __call__(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any: ...


def fetch_round(
    scripts: ScriptRunner,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    want: int,
    acks: Sequence[Any],
    client: Any = None,
    send: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None,
) -> list[Any]:
    """Run a round: finishing scripts, then per-queue ``fetch.lua`` calls; the flat reply.

    Given the cluster ``client``, the first queue's fetch and the other queues'
    acknowledgements (independent calls) go out together, one write per master (see
    :func:`_parallel_round`), through ``send`` if given (the fetcher's held connections,
    :class:`~henchman.redis.cluster_lanes.ClusterLanes`), else :func:`send_all`."""
    plain, finishing = _split_acks(acks)
    for call in finishing:
        try:
            scripts(call.script, call.keys, call.args)
        except redis.ResponseError as exc:  # a bug, not an outage: never loop on it
            _log.error("acknowledging a job failed: %s", exc)
    if order and is_cluster_client(client):
        if send is None:
            send = partial(send_all, client)
        return _parallel_round(scripts, layout, order, working, want, plain, send)
    out: list[Any] = []
    got = 0
    for index, name in enumerate(order, 1):
        pending = plain.pop(name, [])
        if got >= want and not pending:
            continue
        reply = scripts(
            "fetch", [layout.queue(name), working[name]], _fetch_args(want, got, pending)
        )
        for i in range(0, len(reply), 2):
            out += [index, reply[i + 1]]
            got += 1
    for name, raws in plain.items():  # acknowledgements of queues not in this round's order
        if name in working:
            scripts("fetch", [layout.queue(name), working[name]], _fetch_args(0, 0, raws))
    return out


class _Collected:
    """Stands in for a pipeline to :meth:`Scripts.queue`: keeps the ``EVALSHA`` commands."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def evalsha(self, *args: Any) -> None:
        self.commands.append(("EVALSHA", *args))


def _parallel_round(
    scripts: Any,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    want: int,
    plain: dict[str, list[bytes]],
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
) -> list[Any]:
    """The first queue's fetch (with its acknowledgements) and every other queue's
    acknowledgements in one parallel round trip; then, only if the first queue was short, the
    next queues one call each, in order. A reply that is an error is raised (``NOSCRIPT``: the
    call is redone, loading the script)."""
    first = order[0]
    calls = [
        ("fetch", [layout.queue(first), working[first]], _fetch_args(want, 0, plain.pop(first, [])))
    ]
    calls += [
        ("fetch", [layout.queue(name), working[name]], _fetch_args(0, 0, raws))
        for name, raws in plain.items()
        if name in working
    ]
    collected = _Collected()
    for call in calls:
        scripts.queue(collected, *call)
    replies = send(collected.commands)
    for position, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            replies[position] = scripts(*calls[position])
        elif isinstance(reply, Exception):
            raise reply
    out: list[Any] = []
    for i in range(0, len(replies[0]), 2):
        out += [1, replies[0][i + 1]]
    got = len(out) // 2
    for index, name in enumerate(order[1:], 2):
        if got >= want:
            break
        reply = scripts("fetch", [layout.queue(name), working[name]], _fetch_args(want, got, []))
        for i in range(0, len(reply), 2):
            out += [index, reply[i + 1]]
            got += 1
    return out


class AsyncScriptRunner(Protocol):
    async def __call__(
        self, name: str, keys: list[str], args: list[Any], client: Any = None
    ) -> Any: ...


def _split_acks(acks: Sequence[Any]) -> tuple[dict[str, list[bytes]], list[Any]]:
    plain: dict[str, list[bytes]] = {}
    finishing: list[Any] = []
    for unit in acks:
        if unit.finish is None:
            plain.setdefault(unit.queue, []).append(unit.raw)
        else:
            finishing.append(unit.finish)
    return plain, finishing


def _fetch_args(want: int, got: int, raws: Sequence[bytes]) -> list[Any]:
    args: list[Any] = [want - got if got < want else 0]
    for raw in raws:
        args += [1, raw]
    return args


async def afetch_round(
    scripts: AsyncScriptRunner,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    want: int,
    acks: Sequence[Any],
) -> list[Any]:
    """:func:`fetch_round` for the asyncio fetcher."""
    plain, finishing = _split_acks(acks)
    for call in finishing:
        try:
            await scripts(call.script, call.keys, call.args)
        except redis.ResponseError as exc:
            _log.error("acknowledging a job failed: %s", exc)
    out: list[Any] = []
    got = 0
    for index, name in enumerate(order, 1):
        pending = plain.pop(name, [])
        if got >= want and not pending:
            continue
        reply = await scripts(
            "fetch", [layout.queue(name), working[name]], _fetch_args(want, got, pending)
        )
        for i in range(0, len(reply), 2):
            out += [index, reply[i + 1]]
            got += 1
    for name, raws in plain.items():
        if name in working:
            await scripts("fetch", [layout.queue(name), working[name]], _fetch_args(0, 0, raws))
    return out


def give_back_calls(
    units: Sequence[Any], layout: keys.KeyLayout
) -> list[tuple[str, list[str], list[Any]]]:
    """``reclaim.lua`` calls (one per unit, each in its queue's slot) that move fetched jobs back
    to the head of their queues, first fetched at the very head."""
    return [
        ("reclaim", [unit.working_key, layout.queue(unit.queue)], [unit.raw])
        for unit in reversed(units)
    ]
