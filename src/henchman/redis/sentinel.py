"""Redis/Valkey Sentinel: opening clients that follow a failover (the URL is parsed by
:mod:`henchman.sentinel_url`).

``redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]`` (and
``rediss+sentinel://`` for TLS to the data nodes) names a *service* watched by one or more
sentinels instead of one server. Clients are redis-py's own :class:`redis.sentinel.Sentinel`
``master_for`` clients: every new connection asks a sentinel for the current master, and a
connection that finds its server demoted (``READONLY``) or gone is dropped, so the next command
goes to the promoted replica. henchman adds nothing to that mechanism except a log line per
failover (:class:`MasterWatch`) and clear startup errors (:func:`check_sentinels`).

The password in the URL authenticates to the master (and replicas); sentinels that need a
password of their own take ``?sentinel_password=...``. No other query parameter is accepted, so a
misspelt option is an error rather than silently ignored.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
import redis.asyncio as aredis
import redis.asyncio.sentinel as asentinel
from redis import sentinel

from henchman.errors import RedisUnavailable
from henchman.sentinel_url import SentinelTarget

__all__ = [
    "MasterWatch",
    "check_sentinels",
]

_log = logging.getLogger("henchman.redis")


class MasterWatch:
    """Remembers the master address a connector's pools last found; logs each change once.

    Shared by every pool (sync and asyncio) one :class:`~henchman.redis.connection.Connector`
    opens, so a failover is one log line per process however many pools notice it.
    """

    def __init__(self, service: str, logger: logging.Logger = _log) -> None:
        self.service = service
        self._logger = logger
        self._lock = threading.Lock()
        self.address: tuple[str, int] | None = None
        self.failovers = 0

    def seen(self, address: tuple[str, int]) -> None:
        address = (str(address[0]), int(address[1]))
        with self._lock:
            previous, self.address = self.address, address
            if previous is None or previous == address:
                return
            self.failovers += 1
        self._logger.warning(
            "Redis Sentinel failover: master of '%s' moved from %s:%s to %s:%s",
            self.service,
            previous[0],
            previous[1],
            address[0],
            address[1],
        )


class _WatchedProxy(sentinel.SentinelConnectionPoolProxy):
    """What redis-py's sentinel connections ask for the master; reports each answer."""

    watch: MasterWatch

    def get_master_address(self) -> Any:
        address = super().get_master_address()  # type: ignore[no-untyped-call]
        self.watch.seen(address)
        return address


class _WatchedPool(sentinel.SentinelConnectionPool):
    """redis-py's sentinel pool, reporting every master address it discovers."""

    def __init__(self, service_name: str, sentinel_manager: Any, **kwargs: Any) -> None:
        watch: MasterWatch = kwargs.pop("watch")
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        # Connections call the pool's proxy (not the pool) to find the master: watch it there.
        proxy = _WatchedProxy(  # type: ignore[no-untyped-call]
            connection_pool=self,
            is_master=self.is_master,
            check_connection=self.check_connection,
            service_name=service_name,
            sentinel_manager=sentinel_manager,
        )
        proxy.watch = watch
        self.proxy = proxy
        self.connection_kwargs["connection_pool"] = proxy

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        if inuse_connections:  # the client is closing: so are its connections to the sentinels
            for client in self.sentinel_manager.sentinels:
                client.close()


class _WatchedAsyncPool(asentinel.SentinelConnectionPool, aredis.BlockingConnectionPool):
    """The asyncio sentinel pool; like henchman's other asyncio pools it *waits* for a free
    connection (up to ``timeout``) instead of raising ``MaxConnectionsError``."""

    def __init__(self, service_name: str, sentinel_manager: Any, **kwargs: Any) -> None:
        self.watch: MasterWatch = kwargs.pop("watch")
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]

    async def get_master_address(self) -> Any:
        address = await super().get_master_address()  # type: ignore[no-untyped-call]
        self.watch.seen(address)
        return address

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:  # the client is closing: so are its connections to the sentinels
            for client in self.sentinel_manager.sentinels:
                await client.aclose()


def _sentinel_kwargs(target: SentinelTarget, timeout: float) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if target.sentinel_password is not None:
        kwargs["password"] = target.sentinel_password
    return kwargs


def _node_kwargs(target: SentinelTarget) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"db": target.db, "ssl": target.ssl}
    if target.username is not None:
        kwargs["username"] = target.username
    if target.password is not None:
        kwargs["password"] = target.password
    return kwargs


def sync_master(
    target: SentinelTarget, watch: MasterWatch, *, sentinel_timeout: float, **options: Any
) -> redis.Redis:
    """A redis-py client for the service's current master, following failovers."""
    manager = sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, sentinel_timeout)
    )
    client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
        target.service,
        connection_pool_class=_WatchedPool,
        watch=watch,
        **_node_kwargs(target),
        **options,
    )
    return client


def async_master(
    target: SentinelTarget, watch: MasterWatch, *, sentinel_timeout: float, **options: Any
) -> aredis.Redis:
    """A ``redis.asyncio`` client for the service's current master, following failovers."""
    manager = asentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, sentinel_timeout)
    )
    client: aredis.Redis = manager.master_for(
        target.service,
        connection_pool_class=_WatchedAsyncPool,
        watch=watch,
        **_node_kwargs(target),
        **options,
    )
    return client


def check_sentinels(target: SentinelTarget, *, timeout: float) -> tuple[str, int]:
    """The current master's address, or :class:`RedisUnavailable` saying in one line whether no
    sentinel answered or the sentinels know no such service."""
    answered = 0
    for host, port in target.sentinels:
        client = redis.Redis(host, port, **_sentinel_kwargs(target, timeout))
        try:
            masters: Any = client.sentinel_masters()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            continue
        except redis.ResponseError as exc:
            raise RedisUnavailable(f"{host}:{port} is not a Redis Sentinel: {exc}") from None
        finally:
            client.close()
        answered += 1
        state = masters.get(target.service)
        if state and not state.get("is_odown") and not state.get("is_sdown"):
            return (str(state["ip"]), int(state["port"]))
    if not answered:
        raise RedisUnavailable(f"cannot reach any Redis Sentinel for {target.describe()}")
    raise RedisUnavailable(
        f"no Redis Sentinel knows a reachable master for {target.describe()} "
        "(unknown service name?)"
    )
