"""Opening Redis connections from :class:`~henchman.config.Settings`.

``HENCHMAN_REDIS_URL`` / ``REDIS_URL`` (already folded into ``settings.redis_url`` by the config
loader) name a real server; with neither, the embedded Valkey server under ``settings.home`` is
started on first use. Every connection has a socket timeout so no call blocks forever
; blocking fetches use a timeout shorter than it.

redis-py's own retries are narrowed to one immediate retry on a connection error (a pooled
connection that a server restart closed). A command that timed out is never resent by the driver:
a hung server still runs it when it wakes, so a resend could push a job twice or fetch jobs that
nobody receives, and each resend would block the caller for another timeout. henchman's callers
retry with their own backoff and know what a lost reply means for them.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from henchman.cluster_url import ClusterTarget, parse_cluster_url
from henchman.config import Settings
from henchman.errors import ConfigError, RedisUnavailable
from henchman.redis.sentinel import MasterWatch, async_master, check_sentinels, sync_master
from henchman.sentinel_url import SentinelTarget, is_sentinel_url, parse_sentinel_url
from henchman.urls import mask_url


def driver_identity() -> dict[str, Any]:
    """How connections name the client library in ``CLIENT SETINFO``, given explicitly.

    Left to itself, redis-py looks its own version up with ``importlib.metadata`` for every new
    client, which costs the first push of a process about 10 ms. redis-py 8 takes a
    ``DriverInfo``; older versions take ``lib_version``.
    """
    try:
        from redis.driver_info import DriverInfo
    except ImportError:  # redis-py before DriverInfo
        return {"lib_version": redis.__version__}
    return {"driver_info": DriverInfo(lib_version=redis.__version__)}


def client_for_url(url: str, **options: Any) -> redis.Redis:
    """A sync client for any URL henchman accepts (``redis://``, ``unix://``, sentinel and
    cluster URLs),
    for tools that hold a URL rather than :class:`~henchman.config.Settings`."""
    from henchman.cluster_url import is_cluster_url

    if is_cluster_url(url):
        from henchman.redis.cluster_client import sync_cluster

        return sync_cluster(parse_cluster_url(url), **options)
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        timeout = float(options.get("socket_connect_timeout") or 5.0)
        return sync_master(target, MasterWatch(target.service), sentinel_timeout=timeout, **options)
    return redis.Redis.from_url(url, **options)


class Connector:
    """Resolves the server URL once and opens sync or asyncio clients to it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._url: str | None = settings.redis_url
        self._lock = threading.Lock()
        self._sentinel: tuple[SentinelTarget, MasterWatch] | None = None
        self._cluster: ClusterTarget | None = None

    @property
    def cluster(self) -> bool:
        """Whether clients talk to a Redis Cluster (``cluster = true`` or a cluster URL)."""
        return self.settings.cluster

    def _cluster_target(self) -> ClusterTarget | None:
        """The parsed cluster URL (its seed nodes and credentials) in cluster mode."""
        if self._cluster is None and self.settings.cluster:
            if self._url is None:  # Settings refuses this; a hand-made Connector may not
                raise ConfigError("cluster mode needs redis_url to name a cluster node")
            self._cluster = parse_cluster_url(self._url)
        return self._cluster

    def _sentinel_target(self) -> tuple[SentinelTarget, MasterWatch] | None:
        """The parsed sentinel URL and its failover log, if the URL names a sentinel service."""
        if self._sentinel is None and self._url is not None and is_sentinel_url(self._url):
            target = parse_sentinel_url(self._url)
            self._sentinel = (target, MasterWatch(target.service))
        return self._sentinel

    @property
    def url(self) -> str:
        """The server URL; starts the embedded server if none is configured."""
        if self._url is None:
            with self._lock:
                if self._url is None:
                    from henchman.redis.embedded import EmbeddedServer

                    self._url = EmbeddedServer(self.settings.home).ensure_running()
        return self._url

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for logs and messages."""
        return mask_url(self.url)

    def sync(self, *, max_connections: int | None = None) -> redis.Redis:
        """A redis-py client (bytes responses, socket timeouts, health checks)."""
        timeout = self.settings.redis_timeout
        if (cluster_target := self._cluster_target()) is not None:
            from henchman.redis.cluster_client import sync_cluster

            return sync_cluster(
                cluster_target,
                socket_timeout=timeout + self.settings.fetch_timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
                max_connections=max_connections,
                **driver_identity(),
            )
        if (sentinel := self._sentinel_target()) is not None:
            return sync_master(
                *sentinel,
                sentinel_timeout=timeout,
                socket_timeout=timeout + self.settings.fetch_timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
                max_connections=max_connections,
                **driver_identity(),
            )
        return redis.Redis.from_url(
            self.url,
            socket_timeout=timeout + self.settings.fetch_timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            max_connections=max_connections,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            **driver_identity(),
        )

    def asyncio(self, *, max_connections: int = 50) -> aredis.Redis:
        """A ``redis.asyncio`` client for the running event loop.

        Its pool *waits* (up to the Redis timeout) for a free connection instead of raising
        ``MaxConnectionsError``: hundreds of async jobs finishing at once must queue for a
        connection, not fail.
        """
        timeout = self.settings.redis_timeout
        if (cluster_target := self._cluster_target()) is not None:
            from henchman.redis.cluster_client import async_cluster

            # redis-py's asyncio cluster pools do not wait for a free connection: size each
            # node's pool for every command this process can have in flight at once.
            return async_cluster(
                cluster_target,
                max_connections=max_connections + self.settings.async_concurrency,
                socket_timeout=timeout + self.settings.fetch_timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
                **driver_identity(),
            )
        if (sentinel := self._sentinel_target()) is not None:
            return async_master(
                *sentinel,
                sentinel_timeout=timeout,
                timeout=timeout,
                max_connections=max_connections,
                socket_timeout=timeout + self.settings.fetch_timeout,
                socket_connect_timeout=timeout,
                health_check_interval=30,
                **driver_identity(),
            )
        pool = aredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout + self.settings.fetch_timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            retry=AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            **driver_identity(),
        )
        return aredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it

    def check(self) -> redis.Redis:
        """A sync client that has answered PING; :class:`RedisUnavailable` with a clear message
        (password masked) if the server cannot be reached."""
        url = self.url
        if (sentinel := self._sentinel_target()) is not None:
            target, watch = sentinel
            watch.seen(check_sentinels(target, timeout=self.settings.redis_timeout))
        client = self.sync()
        try:
            client.ping()
            if (cluster_target := self._cluster_target()) is not None:
                from henchman.redis.cluster_client import check_cluster

                check_cluster(client, cluster_target)
            elif _cluster_enabled(client):
                raise ConfigError(
                    f"{mask_url(url)} is a Redis Cluster node: set cluster = true "
                    "(or use a redis+cluster:// URL) to run in cluster mode"
                )
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            client.close()
            raise RedisUnavailable(f"cannot reach Redis at {mask_url(url)}: {exc}") from None
        except ConfigError:
            client.close()
            raise
        return client


def _cluster_enabled(client: redis.Redis) -> bool:
    """Whether a standalone client's server is a cluster node (its commands would be MOVED)."""
    try:
        return str(client.info("cluster").get("cluster_enabled", 0)) == "1"
    except redis.ResponseError:  # INFO may be restricted on managed servers
        return False
