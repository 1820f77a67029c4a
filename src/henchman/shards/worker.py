"""A worker process's part on every shard it serves.

Each configured capsule is split by shard: its queues on the default shard stay in a capsule of
the capsule's own name, and its queues on another shard get a capsule of their own named
``<capsule>@<shard>``, with its own connection, reliable fetcher, working lists and
acknowledgements on that server. So every job is fetched, acknowledged, retried, killed and
reconciled on the shard it came from, by the one reliable fetch. The capsule's concurrency is
shared out between its shards (evenly, at least one each): a process runs at most the number of
jobs it was configured for.

Beside the default shard's loops (heartbeat, poller, recovery), which the launcher runs, this
runs per other shard: the scheduled/retry poller, orphan recovery, the working-list registry, and
a *liveness mark* (this process's heartbeat hash, written with the same TTL at every beat) that
the shard's orphan recovery checks before it takes a working list back. The process itself is
registered once, on the default shard, so the Busy page shows it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from henchman import keys
from henchman.config import QueueSpec, Settings
from henchman.errors import ConfigError
from henchman.redis.connection import Connector
from henchman.redis.scripts import Scripts
from henchman.server.capsule import Capsule
from henchman.server.outage import TRANSIENT, OutageLog
from henchman.server.poller import Poller
from henchman.server.recovery import (
    OrphanRecovery,
    register_working_lists,
    registry_entries,
    unregister_working_lists,
)
from henchman.server.startup import server_warnings
from henchman.shards.client import shard_settings
from henchman.shards.routing import DEFAULT, ShardMap, shard_label

if TYPE_CHECKING:
    from henchman.periodic_schedule import Schedule
    from henchman.server.launcher import Launcher

log = logging.getLogger("henchman")


@dataclass(frozen=True)
class CapsulePart:
    """One capsule's queues on one shard, with its share of the capsule's concurrency."""

    name: str
    shard: str
    queues: tuple[QueueSpec, ...]
    concurrency: int
    async_concurrency: int


def plan_parts(settings: Settings) -> list[CapsulePart]:
    """Every (capsule, shard) part a worker with ``settings`` runs; pure."""
    shards = ShardMap(settings.shards)
    capsules = [
        ("default", settings.queues, settings.concurrency, settings.async_concurrency),
        *(
            (c.name, c.queues, c.concurrency, c.async_concurrency or settings.async_concurrency)
            for c in settings.capsules
        ),
    ]
    parts: list[CapsulePart] = []
    for name, queues, threads, tasks in capsules:
        groups = shards.split(list(queues), lambda q: q.name)
        for index, (shard, group) in enumerate(groups.items()):
            parts.append(
                CapsulePart(
                    name if shard == DEFAULT else f"{name}@{shard_label(shard)}",
                    shard,
                    tuple(group),
                    _share(threads, len(groups), index),
                    _share(tasks, len(groups), index),
                )
            )
    return parts


def _share(total: int, parts: int, index: int) -> int:
    """Part ``index`` of ``total`` split evenly over ``parts`` (remainder first), at least 1."""
    return max(1, total // parts + (1 if index < total % parts else 0))


def check_periodic(shards: ShardMap, schedules: Sequence[Schedule]) -> None:
    """Refuse a periodic job on a queue off the default shard (one ConfigError line): the
    leader enqueues each tick in one atomic script with the schedule's mark and history, which
    live on the default shard."""
    for schedule in schedules:
        shard = shards.shard_of(schedule.queue)
        if shard != DEFAULT:
            raise ConfigError(
                f"periodic job {schedule.id!r} uses queue {schedule.queue!r}, which lives on "
                f"shard {shard_label(shard)}: periodic jobs must use queues of the default "
                "shard, where each tick is enqueued atomically with its schedule's mark"
            )


class _Shard:
    """One non-default shard's connection and background steps."""

    def __init__(self, launcher: Launcher, url: str, capsules: Sequence[Capsule]) -> None:
        settings = launcher.settings
        self.url = url
        self.connector = Connector(shard_settings(settings, url))
        self.redis: redis.Redis = self.connector.check()
        #: This shard's outages, logged once each and apart from the default shard's.
        self.outages = OutageLog()
        self._check_server()
        self.scripts = Scripts(self.redis)
        self.capsules = list(capsules)
        self.poller = Poller(self.redis, self.scripts, launcher.clock)
        self.recovery = OrphanRecovery(
            self.redis,
            self.scripts,
            launcher.identity,
            poison_limit=settings.poison_pill_limit,
            dead_max_jobs=settings.dead_max_jobs,
            dead_timeout=settings.dead_timeout,
            clock=launcher.clock,
        )

    def _check_server(self) -> None:
        """The default server's startup checks, for this shard: ConfigError for a server too
        old for henchman's scripts, a logged warning for eviction or no persistence."""
        info = {**self.redis.info("server"), **self.redis.info("persistence")}
        for warning in server_warnings(info, None, embedded=False):
            log.warning("shard %s: %s", shard_label(self.url), warning)

    def working(self) -> dict[str, str]:
        return {k: v for c in self.capsules for k, v in c.fetcher.working.items()}


class ShardWorkers:
    """Builds a sharded worker's capsules and runs its per-shard background steps."""

    def __init__(self, launcher: Launcher) -> None:
        check_periodic(ShardMap(launcher.settings.shards), launcher.periodic.schedules)
        self._launcher = launcher
        self._ttl = int(launcher.settings.process_ttl)
        self.capsules: list[Capsule] = []
        self._shards: dict[str, _Shard] = {}
        by_shard: dict[str, list[Capsule]] = {}
        for part in plan_parts(launcher.settings):
            shard = self._shards.get(part.shard) if part.shard != DEFAULT else None
            if part.shard != DEFAULT and shard is None:
                shard = self._shards[part.shard] = _Shard(launcher, part.shard, ())
            capsule = launcher._capsule(
                part.name,
                part.queues,
                part.concurrency,
                part.async_concurrency,
                client=shard.redis if shard is not None else None,
                async_client=shard.connector.asyncio if shard is not None else None,
                outages=shard.outages if shard is not None else None,
            )
            self.capsules.append(capsule)
            by_shard.setdefault(part.shard, []).append(capsule)
        for url, shard in self._shards.items():
            shard.capsules = by_shard[url]

    @property
    def default_capsules(self) -> list[Capsule]:
        """The capsules whose queues live on the default shard."""
        served = {id(c) for s in self._shards.values() for c in s.capsules}
        return [c for c in self.capsules if id(c) not in served]

    def start(self) -> None:
        """Register working lists, mark this process alive and recover orphans, per shard."""
        launcher = self._launcher
        for shard in self._shards.values():
            register_working_lists(shard.redis, launcher.identity, shard.working())
            log.info("serving queues on shard %s", shard_label(shard.url))
        self.beat()
        self.recover()

    def beat(self) -> None:
        """Write this process's liveness mark on every shard (one round trip each)."""
        identity = self._launcher.identity
        for shard in self._shards.values():

            def mark(shard: _Shard = shard) -> None:
                pipe = shard.redis.pipeline(transaction=True)
                pipe.hset(keys.process(identity), "beat", repr(self._launcher.clock()))
                pipe.expire(keys.process(identity), self._ttl)
                pipe.hset(keys.WORKING_LISTS, mapping=_entries(identity, shard))  # type: ignore[arg-type]
                pipe.execute()

            _guard(shard, mark)

    def poll(self) -> None:
        """Move due scheduled and retry entries to their queues, on every shard."""
        for shard in self._shards.values():
            _guard(shard, shard.poller.enqueue_due)

    def recover(self) -> None:
        """Give dead processes' working lists back, on every shard."""
        for shard in self._shards.values():
            _guard(shard, shard.recovery.run_once)

    def stop(self) -> None:
        """Forget this process's working lists and liveness marks; close the connections."""
        identity = self._launcher.identity
        for shard in self._shards.values():

            def clear(shard: _Shard = shard) -> None:
                unregister_working_lists(shard.redis, shard.working())
                shard.redis.delete(keys.process(identity))

            _guard(shard, clear)
            shard.redis.close()


def _guard(shard: _Shard, step: Callable[[], object]) -> None:
    """Run one background step on ``shard``: an outage is logged once (on the shard's own
    log), any other error in full; neither stops the worker."""
    started = shard.outages.now()
    try:
        step()
    except TRANSIENT as exc:
        shard.outages.failed(exc, started)
        return
    except Exception:
        log.exception("background step %s failed on shard %s", step, shard_label(shard.url))
        return
    shard.outages.succeeded(started)


def _entries(identity: str, shard: _Shard) -> dict[str, bytes]:
    return registry_entries(identity, shard.working())
