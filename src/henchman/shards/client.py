"""Push clients that send each job to its queue's shard.

Sidekiq shards by handing a client another Redis pool (``Sidekiq::Client.via(pool)``); here the
routing is configured once (``shards``) and every push finds its server by the queue it was
planned for (after client middleware, which may change the queue). Each shard has an ordinary
:class:`~henchman.client.sync.Client` (and asyncio twin) of its own, with its own reliable-push
buffer: while one shard is unreachable its pushes wait in its buffer and are redelivered there,
and pushes to the other shards are not held behind them.

The routing client *is* the default shard's client (``redis`` is the default server, where the
shared things live) and delegates the other queues' writes. The unsharded app never builds one,
so an unsharded push costs nothing extra.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from henchman.client import capture
from henchman.client.aio import AsyncClient
from henchman.client.buffer import PushBuffer
from henchman.client.plan import PushPlan
from henchman.client.replication import replica_wait
from henchman.client.sync import Client
from henchman.config import Settings
from henchman.errors import BatchError
from henchman.redis.connection import Connector
from henchman.shards.routing import DEFAULT, ShardMap, shard_label

if TYPE_CHECKING:
    from henchman.app import Henchman

C = TypeVar("C")


class _Shards(Generic[C]):
    """The per-shard clients, opened on first use."""

    def __init__(self, shards: ShardMap, open_shard: Callable[[str], C]) -> None:
        self.map = shards
        self._open = open_shard
        self._clients: dict[str, C] = {}
        self._lock = threading.Lock()

    def get(self, shard: str) -> C:
        client = self._clients.get(shard)
        if client is None:
            with self._lock:
                client = self._clients.get(shard)
                if client is None:
                    client = self._clients[shard] = self._open(shard)
        return client

    def opened(self) -> list[C]:
        with self._lock:
            return list(self._clients.values())

    def groups(self, plans: Sequence[PushPlan]) -> Iterator[tuple[str, list[PushPlan]]]:
        """``plans`` grouped by shard, keeping their order within each shard."""
        if len(plans) == 1:  # one push: no grouping to do
            yield self.map.shard_of(plans[0].queue), list(plans)
            return
        grouped: dict[str, list[PushPlan]] = {}
        for plan in plans:
            grouped.setdefault(self.map.shard_of(plan.queue), []).append(plan)
        yield from grouped.items()


def check_batchable(shards: ShardMap, plans: Sequence[PushPlan]) -> None:
    """Refuse a batch's job on a queue off the default shard: a batch's records live on the
    default shard and each job updates them in its final write, on its own shard."""
    for plan in plans:
        shard = shards.shard_of(plan.queue)
        if shard != DEFAULT:
            raise BatchError(
                f"queue {plan.queue!r} lives on shard {shard_label(shard)}: a batch's jobs must "
                "use queues of the default shard, where batches are kept"
            )


class ShardedClient(Client):
    """The sync client of a sharded app: the default shard's client, routing by queue."""

    def __init__(
        self,
        *args: Any,
        shards: ShardMap,
        open_shard: Callable[[str], Client],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.shards = _Shards(shards, open_shard)

    def for_queue(self, queue: str) -> Client:
        """The client of ``queue``'s shard (this one for the default shard)."""
        return self.for_shard(self.shards.map.shard_of(queue))

    def for_shard(self, shard: str) -> Client:
        """The client of ``shard`` (a URL, or ``"default"``: this one)."""
        return self if shard == DEFAULT else self.shards.get(shard)

    def _push_scripted(self, plan: PushPlan) -> str | None:
        target = self.for_queue(plan.queue)
        if target is self:
            return super()._push_scripted(plan)
        return target._push_scripted(plan)

    def write(self, plans: Sequence[PushPlan]) -> None:
        if capture.active() is not None:
            check_batchable(self.shards.map, plans)
        super().write(plans)

    def deliver(self, plans: Sequence[PushPlan]) -> None:
        for shard, group in self.shards.groups(plans):
            if shard == DEFAULT:
                super().deliver(group)
            else:
                self.shards.get(shard).deliver(group)

    def write_now(self, plans: Sequence[PushPlan], *, once: bool = False) -> None:
        for shard, group in self.shards.groups(plans):
            if shard == DEFAULT:
                super().write_now(group, once=once)
            else:
                self.shards.get(shard).write_now(group, once=once)

    def close(self) -> None:
        for client in self.shards.opened():
            client.close()
        super().close()


class ShardedAsyncClient(AsyncClient):
    """The asyncio twin of :class:`ShardedClient`."""

    def __init__(
        self,
        *args: Any,
        shards: ShardMap,
        open_shard: Callable[[str], AsyncClient],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.shards = _Shards(shards, open_shard)

    def for_queue(self, queue: str) -> AsyncClient:
        """The asyncio client of ``queue``'s shard (this one for the default shard)."""
        shard = self.shards.map.shard_of(queue)
        return self if shard == DEFAULT else self.shards.get(shard)

    async def _push_scripted(self, plan: PushPlan) -> str | None:
        target = self.for_queue(plan.queue)
        if target is self:
            return await super()._push_scripted(plan)
        return await target._push_scripted(plan)

    async def write(self, plans: Sequence[PushPlan]) -> None:
        if capture.active() is not None:  # the sink hands them back through deliver()
            check_batchable(self.shards.map, plans)
            await super().write(plans)
            return
        for shard, group in self.shards.groups(plans):
            if shard == DEFAULT:
                await super().write(group)
            else:
                await self.shards.get(shard).write(group)

    async def aclose(self) -> None:
        for client in self.shards.opened():
            await client.aclose()
        await super().aclose()


def shard_settings(settings: Settings, shard: str) -> Settings:
    """The settings of one shard's connections: the same timeouts, its own URL."""
    return settings.replace(redis_url=shard, shards={})


def sync_factory(app: Henchman) -> Callable[..., Client]:
    """Builds the app's sync client: a :class:`ShardedClient` whose shard clients share the
    app's middleware, hooks and deferral, each with its own reliable-push buffer."""
    settings = app.settings

    def open_shard(shard: str) -> Client:
        connector = Connector(shard_settings(settings, shard))
        buffer = PushBuffer(settings.push_buffer_size) if settings.reliable_push else None
        client = Client(
            connector.sync,
            app.client_middleware,
            buffer,
            hooks=app.push_hooks,
            replica_wait=replica_wait(settings),
        )
        client.deferral = app.push_deferral
        return client

    return functools.partial(ShardedClient, shards=ShardMap(settings.shards), open_shard=open_shard)


def async_factory(app: Henchman) -> Callable[..., AsyncClient]:
    """Builds the app's asyncio client; each shard's shares that shard's sync buffer."""
    settings = app.settings

    def open_shard(shard: str) -> AsyncClient:
        sync = app.client
        assert isinstance(sync, ShardedClient)
        shard_sync = sync.for_shard(shard)
        connector = Connector(shard_settings(settings, shard))
        return AsyncClient(
            connector.asyncio,
            app.client_middleware,
            buffer=shard_sync.buffer,
            fallback_writer=shard_sync.write_now,
            hooks=app.push_hooks,
            replica_wait=shard_sync.replica_wait,
        )

    return functools.partial(
        ShardedAsyncClient, shards=ShardMap(settings.shards), open_shard=open_shard
    )
