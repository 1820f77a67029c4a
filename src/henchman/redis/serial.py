"""Pipelines that may carry script calls, for a cluster client too.

redis-py refuses ``EVALSHA`` inside a cluster pipeline. In cluster mode a pipeline that mixes
commands and script calls (acknowledgements sent in one go) becomes a :class:`SerialPipeline`:
the same interface, each command sent on its own, in order, routed to its slot's node. A
standalone or sentinel client keeps redis-py's real pipeline (one round trip).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

_CALL = "__deferred_call__"


class SerialPipeline:
    """Records commands (``pipe.lrem(...)``, ``pipe.evalsha(...)``) and runs them one by one."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.command_stack: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> SerialPipeline:
            self.command_stack.append((name, args, kwargs))
            return self

        return record

    def defer(self, call: Any) -> None:
        """Record ``call()`` (e.g. a redis-py ``Script`` call on the client, which loads the
        script if the server lost it) to run in order with the commands."""
        self.command_stack.append((_CALL, (call,), {}))

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack, self.command_stack = self.command_stack, []
        replies: list[Any] = []
        for name, args, kwargs in stack:
            try:
                if name == _CALL:
                    replies.append(args[0]())
                    continue
                replies.append(getattr(self._client, name)(*args, **kwargs))
            except redis.ResponseError as exc:
                if raise_on_error:
                    raise
                replies.append(exc)
        return replies


class AsyncSerialPipeline(SerialPipeline):
    """:class:`SerialPipeline` for a ``redis.asyncio`` cluster client."""

    async def execute(self, raise_on_error: bool = True) -> list[Any]:  # type: ignore[override]
        stack, self.command_stack = self.command_stack, []
        replies: list[Any] = []
        for name, args, kwargs in stack:
            try:
                if name == _CALL:
                    replies.append(await args[0]())
                    continue
                replies.append(await getattr(self._client, name)(*args, **kwargs))
            except redis.ResponseError as exc:
                if raise_on_error:
                    raise
                replies.append(exc)
        return replies


def script_pipeline(client: redis.Redis | Any) -> Any:
    """A non-transactional pipeline that may carry script calls (see the module)."""
    if isinstance(client, RedisCluster):
        return SerialPipeline(client)
    return client.pipeline(transaction=False)


def async_script_pipeline(client: aredis.Redis | Any) -> Any:
    """:func:`script_pipeline` for a ``redis.asyncio`` client."""
    if isinstance(client, AsyncRedisCluster):
        return AsyncSerialPipeline(client)
    return client.pipeline(transaction=False)
