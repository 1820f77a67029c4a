"""Cluster layout: one fetch round as one call per master, in the round's order.

``fetch.lua`` moves jobs from several queues in one script, which needs every queue in one hash
slot. In the cluster layout each queue (with its working lists) is its own slot, spread over the
masters. A round therefore sends one call per master it writes to: ``fetch.lua`` for one queue,
``fetch_node.lua`` for several queues that master serves (each checked to be served there; a
queue it refuses is sent on its own through redis-py's routing). The first queue, in weight
order, is asked for the free slots together with the acknowledgements of its master's queues;
acknowledgements of queues on other masters wait for a round that goes there (:class:`ByMaster`,
at most :data:`ACK_HOLD` seconds), so most rounds write to one master, as a round on one server
does. A first queue that is short is topped up from the next queues in two more parallel round
trips (their lengths, then exact asks, with every waiting acknowledgement), never one call after
another. Jobs whose final write is its own script (a retry or dead record) run that script first,
one call each (every such script's keys are in the job's queue slot). The reply has
``fetch.lua``'s shape (pair index into ``order``, raw payload, ...), so the fetcher turns it into
units the same way.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, Protocol

import redis
from redis.exceptions import NoScriptError

from henchman import keys
from henchman.redis.cluster_client import is_cluster_client, master_of, send_all

_log = logging.getLogger("henchman.fetch")


class ScriptRunner(Protocol):
    def __call__(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any: ...


#: The longest (seconds) acknowledgements of other masters' queues are held for a round that
#: goes to their master anyway (see :class:`ByMaster`); then they ride on the next round.
ACK_HOLD = 0.05
#: The most queue keys a :class:`ByMaster` keeps (a fetcher's queues, and those it acknowledges).
MAX_QUEUE_KEYS = 4096
#: How long (seconds) a queue seen empty is asked last in a round (:func:`arrange`).
EMPTY_FRESH = 0.1


class ByMaster:
    """One fetcher's cluster rounds by master: which master serves a key, and the
    acknowledgements held back for a round that goes to their master anyway.

    Why: a round that writes to one master costs a worker one send and one wait, like one
    server's round; each more master it writes to adds a send, a reply to wait for and the
    wake-ups of a loaded machine. A round whose first queue gives every job it asks for therefore
    carries only the acknowledgements of queues on that queue's master; the others are held here
    (their jobs still in their working lists and in the fetcher's ledger) until a round goes to
    their master, a round is short (its top-up writes to every master anyway), or they have
    waited :data:`ACK_HOLD` seconds, when the next round takes that master's along. The wait is
    timed per master: a worker nearly always holds an acknowledgement for one master or another,
    and one timer for them all sent every master's every ``ACK_HOLD`` seconds, in rounds to
    three masters where one would do. The fetcher's flush (a blocked fetch, a heartbeat, a
    stop) takes them too (:meth:`release`). Thread-safe."""

    def __init__(
        self,
        node_of: Callable[[Any], str],
        *,
        hold: float = ACK_HOLD,
        clock: Callable[[], float] = time.monotonic,
        weighted: bool = False,
    ) -> None:
        self.node_of = node_of
        self._hold = hold
        self._clock = clock
        self._lock = threading.Lock()
        #: master name -> the acknowledgements (units) held for a round that goes there
        self._held: dict[str, list[Any]] = {}
        #: master name -> when the oldest of its held acknowledgements was held
        self._since: dict[str, float] = {}
        self._sent: list[Any] = []
        #: queue name -> its list's key (the key's slot is cached by ``node_of``'s lanes)
        self._queue_keys: dict[str, str] = {}
        #: Whether the last round was short (its first queue had fewer jobs than asked): the
        #: next one reads the other queues' lengths with its first call.
        self.short = False
        #: The queues the rounds saw empty lately (only rounds touch it, one at a time).
        self.empty = SeenEmpty(weighted=weighted, clock=clock)

    def node_of_queue(self, layout: keys.KeyLayout, name: str) -> str:
        """The master that serves queue ``name`` now (its key built once per queue)."""
        key = self._queue_keys.get(name)
        if key is None:
            if len(self._queue_keys) >= MAX_QUEUE_KEYS:
                self._queue_keys.clear()
            key = self._queue_keys[name] = layout.queue(name)
        return self.node_of(key)

    def due(self) -> frozenset[str] | None:
        """The masters whose held acknowledgements have waited long enough: they go with the
        next round, whatever master it is for. ``None``: nothing is held back (``hold`` 0), every
        acknowledgement goes with the round that gets it."""
        if self._hold <= 0:
            return None
        with self._lock:
            if not self._since:
                return frozenset()
            now = self._clock()
            return frozenset(n for n, since in self._since.items() if now - since >= self._hold)

    def pending(self) -> bool:
        """Whether acknowledgements are held."""
        return bool(self._held)

    def release(self, nodes: Iterable[str] | None = None) -> list[Any]:
        """Take the held acknowledgements of the queues of ``nodes`` (``None``: every one)."""
        with self._lock:
            if not self._held:
                return []
            if nodes is None:
                units = [unit for units in self._held.values() for unit in units]
                self._held, self._since = {}, {}
                return units
            units = []
            for node in nodes:
                units += self._held.pop(node, ())
                self._since.pop(node, None)
            return units

    def hold(self, by_node: dict[str, list[Any]]) -> None:
        """Keep acknowledgements (by the master of their queue) for a round that goes there."""
        if not by_node:
            return
        with self._lock:
            now = self._clock()
            for node, units in by_node.items():
                self._held.setdefault(node, []).extend(units)
                self._since.setdefault(node, now)

    def confirm(self, units: list[Any]) -> None:
        """The acknowledgements the round just sent (Redis confirmed them)."""
        self._sent = units

    def take_sent(self) -> list[Any]:
        """The acknowledgements the last round sent (they leave the fetcher's ledger)."""
        sent, self._sent = self._sent, []
        return sent


class SeenEmpty:
    """The queues one fetcher's rounds saw empty lately, so that a weighted round asks them last
    for :data:`EMPTY_FRESH` seconds (:func:`arrange`). Not thread-safe: a fetcher's rounds run
    one at a time."""

    def __init__(self, *, weighted: bool, clock: Callable[[], float] = time.monotonic) -> None:
        #: Whether the rounds' order is drawn by weight (queues seen empty may be asked last)
        #: rather than strict (a priority: always asked as configured).
        self.weighted = weighted
        self._clock = clock
        #: queue name -> when a round last saw it empty
        self._when: dict[str, float] = {}

    def arrange(self, order: Sequence[str]) -> tuple[Sequence[str], list[int] | None]:
        """``order`` with the queues seen empty in the last :data:`EMPTY_FRESH` seconds asked
        last (see :func:`arrange`); a strict order is never changed."""
        if not self._when or not self.weighted:
            return order, None
        return arrange(order, self._when, self._clock() - EMPTY_FRESH)

    def seen(self, names: Sequence[str], lengths: Sequence[int]) -> None:
        """A round read these queues' lengths (0: empty)."""
        if not self.weighted:
            return
        now = self._clock()
        for name, length in zip(names, lengths, strict=True):
            if length > 0:
                self._when.pop(name, None)
            else:
                if len(self._when) >= MAX_QUEUE_KEYS:
                    self._when.clear()
                self._when[name] = now


def arrange(
    order: Sequence[str], empty: dict[str, float], since: float
) -> tuple[Sequence[str], list[int] | None]:
    """The round's ``order`` with the queues seen empty at or after ``since`` (``empty``: name ->
    when) moved to its end, each part in its own order; and, when that changed the order, the
    position in ``order`` of each queue of the new one (to put the reply's positions back).

    Why: in one server ``fetch.lua`` passes over an empty queue inside the script, but in a
    cluster a round whose first queue is empty takes a second round trip (the other queues'
    lengths, then the asks), and workers listening on many queues of which few hold jobs draw an
    empty one first most of the time. A queue seen empty a moment ago is most likely empty
    still; if it is not, a round that comes up short reads every length again, and after
    :data:`EMPTY_FRESH` seconds the queue takes its drawn place again. When every queue was seen
    empty the order stays as drawn. Only for a weighted order, drawn anew each round: a strict
    order is a priority, and its first queue is asked first every round, as on one server."""
    ahead: list[int] = []
    behind: list[int] = []
    for position, name in enumerate(order, 1):
        when = empty.get(name)
        (behind if when is not None and when >= since else ahead).append(position)
    if not ahead or not behind or ahead[-1] < behind[0]:
        return order, None
    back = ahead + behind
    return [order[position - 1] for position in back], back


def fetch_round(
    scripts: ScriptRunner,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    want: int,
    acks: Sequence[Any],
    client: Any = None,
    send: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None,
    by_master: ByMaster | None = None,
) -> list[Any]:
    """Run a round: finishing scripts, then ``fetch`` calls (one per master); the flat reply.

    Given the cluster ``client``, the round's calls go out together, one write per master
    (see :func:`_parallel_round`), through ``send`` if given (the fetcher's held connections,
    :class:`~henchman.redis.cluster_lanes.ClusterLanes`), else :func:`send_all`. With
    ``by_master`` some acknowledgements may be held back for a later round (:class:`ByMaster`);
    :meth:`ByMaster.take_sent` then tells which were sent."""
    plain, finishing = _split_units(acks)
    for unit in finishing:
        call = unit.finish
        try:
            scripts(call.script, call.keys, call.args)
        except redis.ResponseError as exc:  # a bug, not an outage: never loop on it
            _log.error("acknowledging a job failed: %s", exc)
    # A fetcher's rounds pass ``by_master`` only in cluster mode; the type check (an ABC
    # instance check, a few microseconds) is for other callers.
    if order and (by_master is not None or is_cluster_client(client)):
        if send is None:
            send = partial(send_all, client)
        if by_master is None:
            by_master = ByMaster(partial(_node_of, client), hold=0)
        arranged, back = by_master.empty.arrange(order)
        reply, sent = _parallel_round(
            scripts, layout, arranged, working, want, plain, send, by_master, back is None
        )
        by_master.confirm(finishing + sent)
        if back is not None:  # positions in ``arranged`` -> positions in ``order``
            reply[::2] = [back[int(position) - 1] for position in reply[::2]]
        return reply
    out: list[Any] = []
    got = 0
    for index, name in enumerate(order, 1):
        pending = _raws(plain.pop(name, []))
        if got >= want and not pending:
            continue
        reply = scripts(
            "fetch", [layout.queue(name), working[name]], _fetch_args(want, got, pending)
        )
        out += _placed(reply, index)
        got += len(reply) // 2
    for name, units in plain.items():  # acknowledgements of queues not in this round's order
        if name in working:
            scripts("fetch", [layout.queue(name), working[name]], _fetch_args(0, 0, _raws(units)))
    if by_master is not None:
        by_master.confirm(list(acks))
    return out


def _node_of(client: Any, key: Any) -> str:
    return str(master_of(client, client.keyslot(key)).name)


#: One queue's part of a round: (its position in the round's order, from 1, or 0 for a queue
#: only acknowledged; its name; how many jobs to take from it; the payloads of its finished jobs
#: to remove from its working list; the master that serves it).
Group = tuple[int, str, int, list[bytes], str]


def _parallel_round(
    scripts: Any,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    want: int,
    plain: dict[str, list[Any]],
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
    by_master: ByMaster,
    as_drawn: bool = True,
) -> tuple[list[Any], list[Any]]:
    """The first queue's fetch and the acknowledgements in one parallel round trip, one call per
    master; acknowledgements of queues on other masters than the first queue's are held back
    (:class:`ByMaster`) unless due. Then, only if the first queue was short, :func:`_fill` from
    the next queues, which also carries whatever was held back. Returns the flat reply and the
    acknowledgements sent; if it raises, every acknowledgement taken from ``by_master`` is held
    again (the fetcher requeues those of ``plain``)."""
    first = order[0]
    home = by_master.node_of_queue(layout, first)
    due = by_master.due()  # None: nothing is held back
    released = by_master.release(None if due is None else {home, *due})
    for unit in released:
        plain.setdefault(unit.queue, []).append(unit)
    groups, sent, later = _first_groups(layout, first, want, working, plain, home, due, by_master)
    # After a short round the next is likely short too (its queues are running dry, or the
    # first is an empty strict-order queue): read the other queues' lengths in the same trip,
    # so a short round takes two round trips instead of three. Not when the order was
    # rearranged (``as_drawn`` false): its first queue is one the short round saw jobs in.
    ahead = [layout.queue(name) for name in order[1:]] if by_master.short and as_drawn else []
    try:
        if ahead or any(group[4] != home for group in groups):
            out, lengths = _run_groups(scripts, layout, working, groups, send, ahead)
            if ahead:
                by_master.empty.seen(order[1:], lengths)
        else:  # every group is the first queue's master's (most rounds): one call
            out = _run_home(scripts, layout, working, groups, send)
        by_master.short = len(out) < 2 * want
        if by_master.short:
            by_master.empty.seen((first,), (0,))
        if by_master.short and len(order) > 1:
            rest = by_master.release()
            released += rest
            for unit in rest:
                later.setdefault(unit.queue, []).append(unit)
            if not ahead:
                lengths = _lengths(send, [layout.queue(name) for name in order[1:]])
                by_master.empty.seen(order[1:], lengths)
            need = want - len(out) // 2
            node_of = partial(by_master.node_of_queue, layout)
            out += _fill(scripts, layout, order, working, need, send, node_of, dict(later), lengths)
            sent += [unit for units in later.values() for unit in units]
            later = {}
    except BaseException:
        restore: dict[str, list[Any]] = {}
        for unit in released:
            restore.setdefault(by_master.node_of_queue(layout, unit.queue), []).append(unit)
        by_master.hold(restore)
        raise
    by_node: dict[str, list[Any]] = {}
    for name, units in later.items():
        by_node.setdefault(by_master.node_of_queue(layout, name), []).extend(units)
    by_master.hold(by_node)
    return out, sent


def _first_groups(
    layout: keys.KeyLayout,
    first: str,
    want: int,
    working: dict[str, str],
    plain: dict[str, list[Any]],
    home: str,
    due: frozenset[str] | None,
    by_master: ByMaster,
) -> tuple[list[Group], list[Any], dict[str, list[Any]]]:
    """The groups of a round's first call: the ``first`` queue's ask with its
    acknowledgements, and the acknowledgements of the other queues of its master (``home``) or
    of a master whose held ones are ``due`` (``None``: every master); with the acknowledgements
    they carry, and, by queue, those left for a later round."""
    sent = plain.pop(first, [])
    groups: list[Group] = [(1, first, want, _raws(sent), home)]
    later: dict[str, list[Any]] = {}
    for name, units in plain.items():
        if name not in working:  # not this fetcher's queue: nothing to remove (as one server)
            sent += units
            continue
        node = by_master.node_of_queue(layout, name)
        if node == home or due is None or node in due:
            groups.append((0, name, 0, _raws(units), node))
            sent += units
        else:
            later[name] = units
    return groups, sent, later


def _fill(
    scripts: Any,
    layout: keys.KeyLayout,
    order: Sequence[str],
    working: dict[str, str],
    need: int,
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
    node_of: Callable[[str], str],
    held: dict[str, list[Any]],
    lengths: Sequence[int],
) -> list[Any]:
    """Up to ``need`` more jobs from the queues after the first, in order, given their
    ``lengths`` (read with the round's first call, or by :func:`_lengths` after it), in one
    parallel round trip whatever the number of queues: one call per master asking each queue
    that had jobs for what the queues before it could not give (:func:`allot`), with the
    ``held`` acknowledgements (``node_of``: a queue name's master). Never more than ``need`` jobs
    are taken; a queue emptied in between only makes the round shorter, as a round whose queues
    are short always is."""
    rest = list(enumerate(order[1:], 2))
    asks = allot(need, lengths)
    groups: list[Group] = []
    for (index, name), ask in zip(rest, asks, strict=True):
        units = held.pop(name, [])
        if ask or units:
            groups.append((index, name, ask, _raws(units), node_of(name)))
    groups += [(0, name, 0, _raws(units), node_of(name)) for name, units in held.items()]
    if not groups:
        return []
    return _run_groups(scripts, layout, working, groups, send)[0]


def _lengths(send: Callable[[list[tuple[Any, ...]]], list[Any]], keys: list[str]) -> list[int]:
    """The lengths of the lists ``keys`` (``LLEN``), in one parallel round trip."""
    replies = send([("LLEN", key) for key in keys])
    for length in replies:
        if isinstance(length, Exception):
            raise length
    return [int(length) for length in replies]


def _run_home(
    scripts: Any,
    layout: keys.KeyLayout,
    working: dict[str, str],
    groups: list[Group],
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
) -> list[Any]:
    """:func:`_run_groups` for a round whose groups one master serves: the first queue, which
    asks for jobs (position 1 in the order, number 1 in the call), and queues that are only
    acknowledged. So the reply's group numbers are already positions: no renumbering."""
    if len(groups) == 1:
        _, name, ask, raws, _ = groups[0]
        call = ("fetch", [layout.queue(name), working[name]], _fetch_args(ask, 0, raws))
        reply: list[Any] = _send_scripts(scripts, send, [call])[0]
        return reply
    reply = _send_scripts(scripts, send, [_node_call(layout, working, groups)])[0]
    out = _refused(scripts, layout, working, groups, reply[0])
    return out + reply[1:] if out else reply[1:]


def _refused(
    scripts: Any,
    layout: keys.KeyLayout,
    working: dict[str, str],
    groups: list[Group],
    numbers: Sequence[Any],
) -> list[Any]:
    """The groups a ``fetch_node`` call reported refused (their master does not serve their slot
    any more), each sent on its own through redis-py's routing, which follows the redirection;
    their flat reply, renumbered to positions."""
    out: list[Any] = []
    for number in numbers:
        _, name, ask, raws, _ = group = groups[int(number) - 1]
        alone = scripts("fetch", [layout.queue(name), working[name]], _fetch_args(ask, 0, raws))
        out += _renumbered(alone, [group])
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


def _run_groups(
    scripts: Any,
    layout: keys.KeyLayout,
    working: dict[str, str],
    groups: list[Group],
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
    lengths_of: Sequence[str] = (),
) -> tuple[list[Any], list[int]]:
    """Each master's groups in one call (``fetch.lua`` for one queue, ``fetch_node.lua`` for
    several), every master's call in one parallel round trip; the flat reply (position in the
    order, payload), in the order's order. A group its master refused (the slot map changed) is
    sent on its own, through redis-py's routing, which follows the redirection. The lengths of
    the lists ``lengths_of`` are read in the same round trip (``LLEN``) and returned too."""
    by_node: dict[str, list[Group]] = {}
    for group in groups:
        by_node.setdefault(group[4], []).append(group)
    calls: list[tuple[str, list[str], list[Any]]] = []
    for node_groups in by_node.values():
        if len(node_groups) == 1:
            _, name, ask, raws, _ = node_groups[0]
            calls.append(("fetch", [layout.queue(name), working[name]], _fetch_args(ask, 0, raws)))
        else:
            calls.append(_node_call(layout, working, node_groups))
    replies = _send_scripts(scripts, send, calls, [("LLEN", key) for key in lengths_of])
    lengths = [int(length) for length in replies[len(calls) :]]
    out: list[Any] = []
    for node_groups, reply in zip(by_node.values(), replies[: len(calls)], strict=True):
        if len(node_groups) == 1:
            out += reply if _numbered_as_placed(node_groups) else _renumbered(reply, node_groups)
            continue
        out += _refused(scripts, layout, working, node_groups, reply[0])
        if _numbered_as_placed(node_groups):
            out += reply[1:]
        else:
            out += _renumbered(reply[1:], node_groups)
    if sum(1 for group in groups if group[2]) > 1:  # the order's order, as one server's reply
        pairs = sorted(zip(out[::2], out[1::2], strict=True), key=lambda pair: int(pair[0]))
        out = [item for pair in pairs for item in pair]
    return out, lengths


def _numbered_as_placed(groups: list[Group]) -> bool:
    """Whether every group that asks for jobs has its position in the order as its number in
    the call (the common round: the first queue asks, the others only acknowledge), so the
    reply needs no renumbering."""
    return all(group[0] == number for number, group in enumerate(groups, 1) if group[2])


def _placed(reply: Sequence[Any], position: int) -> list[Any]:
    """A one-queue ``fetch`` reply (1, payload, 1, payload, ...) with the queue's ``position``
    in the round's order in place of its number in the call."""
    return [item for i in range(0, len(reply), 2) for item in (position, reply[i + 1])]


def _renumbered(reply: Sequence[Any], groups: list[Group]) -> list[Any]:
    """A ``fetch``/``fetch_node`` reply (group number, payload, ...) with each group number
    replaced by that group's position in the round's order."""
    out: list[Any] = []
    for i in range(0, len(reply), 2):
        out += [groups[int(reply[i]) - 1][0], reply[i + 1]]
    return out


def _node_call(
    layout: keys.KeyLayout, working: dict[str, str], groups: list[Group]
) -> tuple[str, list[str], list[Any]]:
    """The ``fetch_node.lua`` call of one master's groups, routed by the first group's keys."""
    args: list[Any] = []
    for _, name, ask, raws, _ in groups:
        args += [layout.queue(name), working[name], ask, len(raws), *raws]
    return ("fetch_node", [args[0], args[1]], args)


def _send_scripts(
    scripts: Any,
    send: Callable[[list[tuple[Any, ...]]], list[Any]],
    calls: list[tuple[str, list[str], list[Any]]],
    plain: Sequence[tuple[Any, ...]] = (),
) -> list[Any]:
    """Script ``calls``, then the ``plain`` commands, in one parallel round trip; a ``NOSCRIPT``
    reply is redone (loading the script), another error reply is raised."""
    replies = send([*(scripts.command(*call) for call in calls), *plain])
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


def _split_units(acks: Sequence[Any]) -> tuple[dict[str, list[Any]], list[Any]]:
    """The plain acknowledgements by queue, and those with a finishing script (units)."""
    plain: dict[str, list[Any]] = {}
    finishing: list[Any] = []
    for unit in acks:  # operators, not method calls: this runs for every job
        if unit.finish is not None:
            finishing += (unit,)
        elif unit.queue in plain:
            plain[unit.queue] += (unit,)
        else:
            plain[unit.queue] = [unit]
    return plain, finishing


def _split_acks(acks: Sequence[Any]) -> tuple[dict[str, list[bytes]], list[Any]]:
    plain, finishing = _split_units(acks)
    return {name: _raws(units) for name, units in plain.items()}, [u.finish for u in finishing]


def _raws(units: Sequence[Any]) -> list[bytes]:
    return [unit.raw for unit in units]


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
    client: Any,
    empty: SeenEmpty | None = None,
) -> list[Any]:
    """:func:`fetch_round` for the asyncio fetcher, with the same round trips: the first queue's
    fetch and every other queue's acknowledgements together (one script call each, in
    parallel); then, only if the first queue was short, the next queues' lengths (read with the
    asyncio cluster ``client``) in parallel and one ask per queue that had jobs, in parallel,
    for what the queues before it could not give (:func:`allot`). With ``empty``, a weighted
    round asks the queues seen empty lately last (:func:`arrange`). Every call of a step
    completes before the step's first error is raised, so a failed round leaves nothing in
    flight."""
    back: list[int] | None = None
    if empty is not None:
        order, back = empty.arrange(order)

    def drawn(position: int) -> int:  # a position in the arranged order, in the drawn one
        return back[position - 1] if back is not None else position

    plain, finishing = _split_acks(acks)
    for call in finishing:
        try:
            await scripts(call.script, call.keys, call.args)
        except redis.ResponseError as exc:
            _log.error("acknowledging a job failed: %s", exc)
    calls = []
    if order:
        first = order[0]
        raws = plain.pop(first, [])
        calls.append(("fetch", [layout.queue(first), working[first]], _fetch_args(want, 0, raws)))
    calls += [
        ("fetch", [layout.queue(name), working[name]], _fetch_args(0, 0, raws))
        for name, raws in plain.items()
        if name in working  # not this fetcher's queue: nothing to remove (as one server)
    ]
    replies = await _gather([scripts(*call) for call in calls])
    if not order:
        return []
    out = _placed(replies[0], drawn(1))
    need = want - len(out) // 2
    if need <= 0:
        return out
    if empty is not None:
        empty.seen(order[:1], (0,))
    if len(order) < 2:
        return out
    rest = list(enumerate(order[1:], 2))
    lengths = [int(n) for n in await _gather([client.llen(layout.queue(n)) for _, n in rest])]
    if empty is not None:
        empty.seen(order[1:], lengths)
    asks = allot(need, lengths)
    chosen = [(index, name, ask) for (index, name), ask in zip(rest, asks, strict=True) if ask]
    replies = await _gather(
        [
            scripts("fetch", [layout.queue(name), working[name]], _fetch_args(ask, 0, []))
            for _, name, ask in chosen
        ]
    )
    for (index, _, _), reply in zip(chosen, replies, strict=True):
        out += _placed(reply, drawn(index))
    return out


async def _gather(calls: Sequence[Awaitable[Any]]) -> list[Any]:
    """Await ``calls`` together; once every one has completed, raise the first error if any."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


def give_back_calls(
    units: Sequence[Any], layout: keys.KeyLayout
) -> list[tuple[str, list[str], list[Any]]]:
    """``reclaim.lua`` calls (one per unit, each in its queue's slot) that move fetched jobs back
    to the head of their queues, first fetched at the very head."""
    return [
        ("reclaim", [unit.working_key, layout.queue(unit.queue)], [unit.raw])
        for unit in reversed(units)
    ]
