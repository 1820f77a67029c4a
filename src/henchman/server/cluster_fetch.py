"""Cluster layout: one fetch round as ``fetch.lua`` calls per queue, in the round's order.

``fetch.lua`` moves jobs from several queues in one script, which needs every queue in one hash
slot. In the cluster layout each queue (with its working lists) is its own slot, so a round
calls the same script once per queue it takes from, in weight order, until the free slots are
filled; each call carries the acknowledgements of its own queue. The first queue's fetch and the
other queues' acknowledgements go out together (one write per master); a first queue that is
short is topped up from the next queues in two more parallel round trips (their lengths, then
exact asks), never one call after another. Jobs whose final write is its own script (a retry or
dead record) run that script first, one call each (every such script's keys are in the job's
queue slot). The reply has ``fetch.lua``'s shape (pair index into ``order``, raw payload, ...),
so the fetcher turns it into units the same way.
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
    acknowledgements in one parallel round trip; then, only if the first queue was short,
    :func:`_fill` from the next queues. A reply that is an error is raised (``NOSCRIPT``: the
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
    replies = _send_scripts(scripts, send, calls)
    out: list[Any] = []
    for i in range(0, len(replies[0]), 2):
        out += [1, replies[0][i + 1]]
    got = len(out) // 2
    if got < want and len(order) > 1:
        out += _fill(scripts, layout, order, working, want - got, send)
    return out


def _fill(
    scripts: Any,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    need: int,
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
) -> list[Any]:
    """Up to ``need`` more jobs from the queues after the first, in order, in two parallel
    round trips whatever the number of queues: every queue's length (``LLEN``), then one
    ``fetch.lua`` call per queue that had jobs, asking each for what the queues before it could
    not give (:func:`allot`). Never more than ``need`` jobs are taken; a queue emptied in between
    only makes the round shorter, as a round whose queues are short always is."""
    rest = list(enumerate(order[1:], 2))
    lengths = send([("LLEN", layout.queue(name)) for _, name in rest])
    for length in lengths:
        if isinstance(length, Exception):
            raise length
    asks = allot(need, [int(length) for length in lengths])
    picked = [(rest[i][0], rest[i][1], ask) for i, ask in enumerate(asks) if ask]
    if not picked:
        return []
    calls = [("fetch", [layout.queue(name), working[name]], [ask]) for _, name, ask in picked]
    replies = _send_scripts(scripts, send, calls)
    out: list[Any] = []
    for (index, _, _), reply in zip(picked, replies, strict=True):
        for i in range(0, len(reply), 2):
            out += [index, reply[i + 1]]
    return out


def allot(need: int, lengths: Sequence[int]) -> list[int]:
    """How many jobs to ask of each queue, in order, for ``need`` jobs: each queue gives what
    it holds until the need is met (the weighted order decides, as in one ``fetch.lua`` call)."""
    asks: list[int] = []
    for length in lengths:
        ask = min(max(length, 0), need)
        asks.append(ask)
        need -= ask
    return asks


def _send_scripts(
    scripts: Any,
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
    calls: list[tuple[str, list[str], list[Any]]],
) -> list[Any]:
    """Script ``calls`` in one parallel round trip; a ``NOSCRIPT`` reply is redone (loading the
    script), another error reply is raised."""
    collected = _Collected()
    for call in calls:
        scripts.queue(collected, *call)
    replies = send(collected.commands)
    for position, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            replies[position] = scripts(*calls[position])
        elif isinstance(reply, Exception):
            raise reply
    return replies


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
