"""Orphan recovery and the poison-pill rule.

Every process registers its working lists in ``henchman:working`` (list key -> [identity,
queue]). A live process checks at startup and every ``orphan_check_interval`` (default 60 s),
holding a short lock so one process recovers at a time: each list whose owner's heartbeat hash
has expired (60 s TTL) goes back to the head of its queue (``recover.lua``, which re-checks the
owner inside the script). With the defaults a SIGKILLed worker's jobs run again within about
120 s (TTL + one check interval).

A job recovered ``poison_pill_limit`` times (default 3) is a poison pill: it keeps killing the
process that runs it, so instead of a fourth run it goes to the dead set with
``error_class = henchman.PoisonPill``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
import redis

from henchman import keys, payload as wire
from henchman.redis.scripts import Scripts
from henchman.server.heartbeat import day_of

log = logging.getLogger("henchman")

LOCK_TTL_MS = 30_000
#: Recovery counts are kept this long after the last recovery (s).
RECOVERIES_TTL = 7 * 24 * 3600
POISON_CLASS = "henchman.PoisonPill"


def registry_entries(identity: str, working: dict[str, str]) -> dict[str, bytes]:
    """``henchman:working`` fields for one process: working-list key -> [identity, queue]."""
    return {key: orjson.dumps([identity, queue]) for queue, key in working.items()}


def register_working_lists(
    client: redis.Redis,
    identity: str,
    working: dict[str, str],
    layout: keys.KeyLayout = keys.SIDEKIQ,
) -> None:
    """Record this process's working lists so they can be recovered after its death."""
    client.hset(layout.WORKING_LISTS, mapping=registry_entries(identity, working))  # type: ignore[arg-type]


def unregister_working_lists(
    client: redis.Redis, working: dict[str, str], layout: keys.KeyLayout = keys.SIDEKIQ
) -> None:
    """Forget this process's (now empty) working lists at a clean exit."""
    if working:
        client.hdel(layout.WORKING_LISTS, *working.values())


class OrphanRecovery:
    """Finds dead processes' working lists and gives their jobs back."""

    def __init__(
        self,
        client: redis.Redis,
        scripts: Scripts,
        identity: str,
        *,
        poison_limit: int,
        dead_max_jobs: int,
        dead_timeout: float,
        clock: Callable[[], float],
        layout: keys.KeyLayout = keys.SIDEKIQ,
    ) -> None:
        self._layout = layout
        self._redis = client
        self._scripts = scripts
        self._identity = identity
        self._poison_limit = poison_limit
        self._dead_max = dead_max_jobs
        self._dead_timeout = dead_timeout
        self._clock = clock

    def run_once(self) -> int:
        """Recover every orphaned working list now (if no other process is); return jobs moved."""
        lock_token = self._identity.encode()
        if not self._redis.set(self._layout.RECOVERY_LOCK, lock_token, nx=True, px=LOCK_TTL_MS):
            return 0
        try:
            moved = self._recover_all()
            self._bury_poison()
            return moved
        finally:
            if self._redis.get(self._layout.RECOVERY_LOCK) == lock_token:
                self._redis.delete(self._layout.RECOVERY_LOCK)

    def _recover_all(self) -> int:
        total = 0
        layout = self._layout
        for field, value in self._redis.hgetall(layout.WORKING_LISTS).items():
            try:
                owner, queue = orjson.loads(value)
            except (orjson.JSONDecodeError, ValueError, TypeError):
                self._redis.hdel(layout.WORKING_LISTS, field)
                continue
            if owner == self._identity:
                continue
            if layout.cluster:
                moved, poisoned = self._recover_in_slot(_text(field), owner, queue)
            else:
                moved, poisoned = self._scripts(
                    "recover",
                    [
                        _text(field),
                        keys.queue(queue),
                        keys.process(owner),
                        keys.RECOVERIES,
                        keys.POISON,
                        keys.WORKING_LISTS,
                    ],
                    [field, self._poison_limit, RECOVERIES_TTL],
                )
            if moved < 0:
                continue  # owner is alive
            if moved or poisoned:
                log.warning(
                    "recovered %d job(s) of dead process %s to queue %r (%d poison pill(s))",
                    moved,
                    owner,
                    queue,
                    poisoned,
                )
                self._count(int(moved))
            total += int(moved)
        return total

    def _recover_in_slot(self, field: str, owner: str, queue: str) -> tuple[int, int]:
        """Cluster layout: the owner check (shared slot), the move (``recover_queue.lua``, in
        the queue's slot), then the registry entry's removal, as three steps. A crash between
        them leaves the entry, and the next run finds an empty list: nothing is lost. The owner
        is checked outside the move, so one that comes back in that instant may run a job that
        was also given back (at least once, as after any recovery)."""
        layout = self._layout
        if self._redis.exists(layout.process(owner)):
            return -1, 0
        moved, poisoned = self._scripts(
            "recover_queue",
            [field, layout.queue(queue), layout.recoveries(queue), layout.poison(queue)],
            [self._poison_limit, RECOVERIES_TTL],
        )
        self._redis.hdel(layout.WORKING_LISTS, field)
        return int(moved), int(poisoned)

    def _count(self, moved: int) -> None:
        if moved:
            layout = self._layout
            day = layout.stat_recovered_day(day_of(self._clock()))
            pipe = self._redis.pipeline(transaction=False)
            pipe.incrby(layout.STAT_RECOVERED, moved)
            pipe.incrby(day, moved)
            pipe.expire(day, 5 * 365 * 24 * 3600)
            pipe.execute()

    def _bury_poison(self) -> None:
        """Write the dead record of every poison pill waiting in a poison list (the one list,
        or in the cluster layout each queue's own)."""
        layout = self._layout
        if not layout.per_queue_sets:
            self._bury_poison_of(keys.POISON, keys.DEAD)
            return
        for member in self._redis.smembers(layout.QUEUES):
            name = _text(member)
            self._bury_poison_of(layout.poison(name), layout.dead(name))

    def _bury_poison_of(self, poison: str, dead: str) -> None:
        for raw in self._redis.lrange(poison, 0, -1):
            now = self._clock()
            try:
                record = wire.decode_loose(raw)
            except Exception:
                record = {
                    "class": "henchman.InvalidPayload",
                    "args": [],
                    "raw_payload": wire.raw_text(raw),
                }
            record.update(
                error_class=POISON_CLASS,
                error_message=(
                    f"the process running this job died {self._poison_limit} times "
                    "(killed, os._exit, segfault or out of memory); sent to the dead set "
                    "instead of running it again"
                ),
                failed_at=now,
            )
            self._scripts(
                "ack",
                [poison, dead],
                [
                    raw,
                    repr(now),
                    wire.encode(record),
                    repr(now - self._dead_timeout),
                    self._dead_max,
                ],
            )
            log.error(
                "poison pill %s (%s) moved to the dead set", record.get("jid"), record.get("class")
            )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
