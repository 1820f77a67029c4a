"""Redis Cluster clients and the startup checks of cluster mode.

Clients are redis-py's own :class:`redis.cluster.RedisCluster` and
:class:`redis.asyncio.cluster.RedisCluster`: they read the slot map from the seed nodes, send each
command to the master of its key's slot, follow ``MOVED``/``ASK`` redirections, and after a node
fails re-read the slot map, so once a replica is promoted the next command goes to it.

Retries: like henchman's standalone clients, a command that *timed out* is never resent by the
driver (the server may still run it, so a resend could push a job twice); redis-py's cluster
client would resend it, so :class:`_Cluster` narrows the errors it retries to those where the
command did not run: a refused connection (a dead master), ``CLUSTERDOWN`` and a slot no node
serves (a failover in progress). Those are retried with a short exponential backoff (about 5 s in
all, enough for a failover with a small ``cluster-node-timeout``); longer outages reach henchman's
callers, which retry with their own backoff as they do for a standalone server.

The startup checks (:func:`check_cluster`) refuse, with one line each, a URL whose nodes are not
a cluster and a cluster that already holds keys of Sidekiq's layout (which cluster mode would
never read).
"""

from __future__ import annotations

from typing import Any, cast

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
from redis import cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.retry import Retry

from henchman import keys
from henchman.cluster_url import ClusterTarget
from henchman.errors import ConfigError, RedisUnavailable

__all__ = [
    "SIDEKIQ_MARKERS",
    "ClusterUnavailable",
    "async_cluster",
    "check_cluster",
    "first_key",
    "is_cluster_client",
    "master_of",
    "send_all",
    "sidekiq_keys_on",
    "sync_cluster",
]

#: Keys whose presence means the data is in Sidekiq's layout (bare names, no hash tag).
SIDEKIQ_MARKERS = (keys.QUEUES, keys.SCHEDULE, keys.RETRY, keys.DEAD, keys.PROCESSES)
#: Sidekiq-layout queue lists: ``queue:<name>``, where the cluster layout has ``queue:{<name>}``.
SIDEKIQ_QUEUE_PATTERN = keys.QUEUE_PREFIX + "[^{]*"
#: Errors after which the command certainly did not run: retried by the cluster client.
RETRIED_ERRORS = (redis.ConnectionError, ClusterDownError, SlotNotCoveredError)
RETRIES = 10
#: What a cluster answers while it cannot serve a slot (a failover in progress, a shard down).
_CLUSTER_DOWN = (ClusterDownError, SlotNotCoveredError, TryAgainError, MasterDownError)


class ClusterUnavailable(redis.ConnectionError):
    """The cluster could not serve a command after the client's retries (``CLUSTERDOWN``, a slot
    no master serves, ...). A :class:`redis.ConnectionError`, so henchman's outage handling
    treats it like a server that cannot be reached: log once, back off, try again."""


BACKOFF_CAP = 1.0
BACKOFF_BASE = 0.05


#: Where the (first) key is in the commands of the direct path (see :class:`_Cluster`):
#: scripts (``EVALSHA sha numkeys key...``) and the single-key commands henchman sends most.
_SCRIPT_COMMANDS = frozenset({"EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL"})
_SINGLE_KEY_COMMANDS = frozenset(
    {
        "GET", "SET", "INCR", "INCRBY", "EXPIRE", "TTL", "TYPE", "EXISTS", "DEL", "UNLINK",
        "LPUSH", "RPUSH", "LLEN", "LRANGE", "LINDEX", "LREM", "LPOP", "RPOP",
        "HGET", "HSET", "HMGET", "HGETALL", "HDEL", "HINCRBY", "HLEN",
        "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SCARD",
        "ZADD", "ZREM", "ZCARD", "ZSCORE", "ZRANGE", "ZRANGEBYSCORE", "ZREMRANGEBYSCORE",
    }
)  # fmt: skip
#: Commands that take several keys: on the direct path only with exactly one.
_MULTI_KEY_COMMANDS = frozenset({"EXISTS", "DEL", "UNLINK"})
#: Replies after which the command did not run here: resent through redis-py's routing, which
#: refreshes the slot map (MOVED/ASK after a failover or resharding, a dead node).
REROUTED = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
    ClusterDownError,
    SlotNotCoveredError,
)


def first_key(args: tuple[Any, ...]) -> Any:
    """The first key of a command henchman sends on the direct path, or ``None``."""
    name = args[0].upper() if isinstance(args[0], str) else ""
    if name in _SCRIPT_COMMANDS:
        if len(args) > 3 and str(args[2]) not in ("0", ""):
            return args[3]
        return None
    if name in _SINGLE_KEY_COMMANDS and len(args) > 1:
        if name in _MULTI_KEY_COMMANDS and len(args) != 2:
            return None
        return args[1]
    return None


def master_of(rc: Any, slot: int) -> Any:
    """The master node serving ``slot`` in redis-py's slot map (``rc.nodes_manager``).

    Read from the map directly: redis-py's ``get_node_from_slot`` inspects its arguments for
    deprecations on every call, which costs more than the rest of a command's routing. A slot the
    map does not cover goes through it, which raises ``SlotNotCoveredError``."""
    nodes = rc.nodes_manager.slots_cache.get(slot)
    if nodes:
        return nodes[0]
    return rc.nodes_manager.get_node_from_slot(slot)


class _Cluster(cluster.RedisCluster):
    """redis-py's sync cluster client, retrying only errors after which nothing ran, with a
    direct path for the commands henchman sends per job.

    redis-py's cluster routing costs several times the CPU of a standalone command (command
    policy lookup, key extraction, metrics hooks) and on a machine with few cores the workers'
    Python, not Redis, is the ceiling. Scripts and single-key commands therefore go straight to
    the standalone client of the master that serves the key's slot (from the slot map redis-py
    keeps), which is what redis-py would do after its bookkeeping. A redirection (``MOVED``,
    ``ASK``), ``TRYAGAIN``, ``CLUSTERDOWN``, an unknown slot or a refused connection sends the
    command through redis-py's full path, which refreshes the slot map and retries; a timeout is
    raised (the command may still run, so it is never resent).
    """

    ERRORS_ALLOW_RETRY = RETRIED_ERRORS  # type: ignore[assignment]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return self._execute(args, options)
        except _CLUSTER_DOWN as exc:
            raise ClusterUnavailable(f"Redis Cluster unavailable: {exc}") from exc

    def _execute(self, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
        key = None if options.keys() - {"keys"} else first_key(args)
        if key is None:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        try:
            node = master_of(self, self.keyslot(key))  # type: ignore[no-untyped-call]
            direct = node.redis_connection
        except SlotNotCoveredError:
            direct = None
        if direct is None:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        try:
            return direct.execute_command(*args, **options)
        except redis.TimeoutError:
            raise
        except (redis.ConnectionError, *REROUTED):
            # Nothing ran (a refused connection, a redirection): redis-py's full path re-reads
            # the slot map and retries with its backoff.
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)  # type: ignore[no-untyped-call]
        run = pipe.execute

        def execute(*args: Any, **options: Any) -> Any:
            try:
                return run(*args, **options)
            except _CLUSTER_DOWN as exc:
                raise ClusterUnavailable(f"Redis Cluster unavailable: {exc}") from exc

        pipe.execute = execute
        return pipe


class _AsyncCluster(acluster.RedisCluster):
    """redis-py's asyncio cluster client, retrying only errors after which nothing ran."""

    ERRORS_ALLOW_RETRY = RETRIED_ERRORS  # type: ignore[assignment]

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().execute_command(*args, **options)
        except _CLUSTER_DOWN as exc:
            raise ClusterUnavailable(f"Redis Cluster unavailable: {exc}") from exc


def send_all(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Run independent ``commands`` (scripts or single-key commands) on a cluster client in one
    parallel round trip: each master gets its commands packed in one write on one connection,
    all masters are written before any is read. Replies come back in order; an error reply is
    returned as its exception, except a redirection (``MOVED``, ``ASK``, ``TRYAGAIN``,
    ``CLUSTERDOWN``), whose command is redone through redis-py's routing (it did not run). A
    connection error disconnects and propagates, like a pipeline's (some commands may have run).
    """
    rc = cast(cluster.RedisCluster, client)
    groups = _by_master(rc, commands)
    replies: list[Any] = [None] * len(commands)
    sent: list[tuple[Any, Any, list[int]]] = []
    try:
        for node, indexes in groups.values():
            pool = node.redis_connection.connection_pool
            connection = pool.get_connection()
            sent.append((pool, connection, indexes))
            connection.send_packed_command(connection.pack_commands([commands[i] for i in indexes]))
        for _, connection, indexes in sent:
            for index in indexes:
                try:
                    replies[index] = connection.read_response()
                except redis.ResponseError as exc:
                    replies[index] = exc
    except BaseException:
        for _, connection, _ in sent:
            connection.disconnect()
        raise
    finally:
        for pool, connection, _ in sent:
            pool.release(connection)
    for index, reply in enumerate(replies):
        if isinstance(reply, REROUTED):
            try:
                replies[index] = rc.execute_command(*commands[index])  # type: ignore[no-untyped-call]
            except redis.ResponseError as exc:
                replies[index] = exc
    return replies


def _by_master(
    rc: cluster.RedisCluster, commands: list[tuple[Any, ...]]
) -> dict[str, tuple[Any, list[int]]]:
    """Command positions grouped by the master that serves each one's key."""
    groups: dict[str, tuple[Any, list[int]]] = {}
    for index, command in enumerate(commands):
        key = first_key(command)
        if key is None:
            raise ValueError(f"send_all needs keyed commands, got {command[0]!r}")
        node = master_of(rc, rc.keyslot(key))  # type: ignore[no-untyped-call]
        groups.setdefault(node.name, (node, []))[1].append(index)
    return groups


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), RETRIES)


def _options(target: ClusterTarget) -> dict[str, Any]:
    options: dict[str, Any] = {
        "username": target.username,
        "password": target.password,
        "require_full_coverage": False,
    }
    if target.ssl:
        options["ssl"] = True
    return options


def sync_cluster(target: ClusterTarget, **options: Any) -> redis.Redis:
    """A sync cluster client (typed as :class:`redis.Redis`: it answers the same commands for
    keys in one slot). Raises :class:`ConfigError` if the nodes are not a cluster and
    :class:`RedisUnavailable` if none can be reached."""
    if options.get("max_connections") is None:
        options.pop("max_connections", None)
    retry = options.pop("retry", None) or _retry()
    try:
        client = _Cluster(
            startup_nodes=[cluster.ClusterNode(host, port) for host, port in target.nodes],  # type: ignore[no-untyped-call]
            retry=retry,
            **_options(target),
            **options,
        )
    except RedisClusterException as exc:
        raise _startup_error(target, exc) from None
    return cast(redis.Redis, client)


def async_cluster(target: ClusterTarget, **options: Any) -> aredis.Redis:
    """An asyncio cluster client; it connects on its first command (``initialize``)."""
    client = _AsyncCluster(
        startup_nodes=[acluster.ClusterNode(host, port) for host, port in target.nodes],
        retry=AsyncRetry(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), RETRIES),
        **_options(target),
        **options,
    )
    return cast(aredis.Redis, client)


def is_cluster_client(client: object) -> bool:
    """Whether ``client`` is a (sync or asyncio) cluster client."""
    return isinstance(client, cluster.RedisCluster | acluster.RedisCluster)


def _startup_error(target: ClusterTarget, exc: Exception) -> Exception:
    text = str(exc)
    if "cluster mode is not enabled" in text.lower() or "cluster_enabled" in text.lower():
        return ConfigError(_not_a_cluster(target))
    return RedisUnavailable(f"cannot reach the {target.describe()}: {text.splitlines()[0]}")


def _not_a_cluster(target: ClusterTarget) -> str:
    return (
        f"redis_url names a cluster but {target.describe().removeprefix('Redis Cluster via ')} "
        "is not a Redis Cluster node (cluster mode is off on that server): use a redis:// URL "
        "and cluster = false for a single server"
    )


def sidekiq_keys_on(client: redis.Redis) -> list[str]:
    """The Sidekiq-layout keys found on the masters of ``client``'s cluster (at most a few)."""
    rc = cast(cluster.RedisCluster, client)
    found = [name for name in SIDEKIQ_MARKERS if rc.exists(name)]
    for node in rc.get_primaries():  # type: ignore[no-untyped-call]
        conn = rc.get_redis_connection(node)
        for key in conn.scan_iter(match=SIDEKIQ_QUEUE_PATTERN, count=1000):
            found.append(key.decode() if isinstance(key, bytes) else str(key))
            break
    return sorted(set(found))


def check_cluster(client: redis.Redis, target: ClusterTarget) -> None:
    """Refuse, with one line, a cluster that holds Sidekiq-layout data."""
    found = sidekiq_keys_on(client)
    if found:
        shown = ", ".join(found[:5])
        raise ConfigError(
            f"cluster mode: the {target.describe()} holds keys of the Sidekiq layout ({shown}) "
            "that cluster mode never reads: drain them first with workers in the default mode "
            "(cluster = false), move them, or point redis_url at an empty cluster "
            "(see docs/scale.md)"
        )
