"""Lua scripts for every multi-step atomic operation, loaded from ``lua/*.lua``.

Each script is sent once with SCRIPT LOAD semantics (redis-py's ``Script`` object: EVALSHA, and
EVAL on NOSCRIPT after a server restart), so the hot path pays for the SHA only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import redis
import redis.asyncio as aredis
from redis.commands.core import AsyncScript, Script
from redis.exceptions import NoScriptError

from henchman.redis.lane import Lane

NAMES = (
    "fetch",
    "fetch_node",
    "ack",
    "requeue",
    "requeue_one",
    "schedule",
    "recover",
    "batch_ack",
    "batch_commit",
    "batch_count",
    "batch_rescue",
    "result_write",
    "result_fail",
    "reclaim",
    "unique_push",
    "unique_release",
    "deliver_queue",
    "schedule_queue",
    "recover_queue",
)


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One script call (name, KEYS, ARGV)."""

    script: str
    keys: list[str]
    args: list[Any]


#: First line of a script that shares code: ``-- requires: <lib>`` prepends ``lua/<lib>.lua``.
_REQUIRES = "-- requires: "


@cache
def source(name: str) -> str:
    """The Lua source of script ``name`` (with the library it requires prepended)."""
    text = resources.files("henchman.redis").joinpath("lua", f"{name}.lua").read_text("utf-8")
    first = text.split("\n", 1)[0]
    if first.startswith(_REQUIRES):
        return source(first[len(_REQUIRES) :].strip()) + "\n" + text
    return text


def _no_script(reply: Any) -> bool:
    return isinstance(reply, redis.exceptions.NoScriptError)


class Scripts:
    """The scripts registered on one sync client."""

    def __init__(self, client: redis.Redis) -> None:
        self._scripts: dict[str, Script] = {n: client.register_script(source(n)) for n in NAMES}

    def __call__(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run script ``name`` (on ``client``, e.g. a pipeline, if given)."""
        return self._scripts[name](keys=keys, args=args, client=client)

    def queue(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Add one ``EVALSHA`` of ``name`` to ``pipe`` (no per-execute ``SCRIPT EXISTS``); run
        the pipeline with :meth:`execute`, which loads a script the server lost and retries."""
        pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)

    def command(self, name: str, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        """The ``EVALSHA`` command of ``name`` as a tuple, to send on a held connection (the
        caller redoes a ``NOSCRIPT`` reply with :meth:`__call__`, which loads the script)."""
        return ("EVALSHA", self._scripts[name].sha, len(keys), *keys, *args)

    def execute(self, pipe: Any, calls: list[tuple[str, list[str], list[Any]] | None]) -> list[Any]:
        """Execute ``pipe``; ``calls[i]`` is the script behind reply ``i`` (``None`` for a plain
        command). A reply that is ``NOSCRIPT`` (server restarted) is redone by loading the
        script; other error replies are returned, not raised."""
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            call = calls[index] if index < len(calls) else None
            if call is not None and _no_script(reply):
                try:
                    replies[index] = self(*call)
                except redis.exceptions.ResponseError as exc:
                    replies[index] = exc
        return replies

    def run_all(
        self, client: redis.Redis, calls: list[tuple[str, list[str], list[Any]]]
    ) -> list[Any]:
        """Run ``calls`` in order in one round trip on a pooled connection, without redis-py's
        pipeline machinery (a third of the CPU per call on the hot path of every batch job).
        Error replies are returned, not raised; a ``NOSCRIPT`` reply is redone after loading
        the script. A connection error disconnects and propagates, like a pipeline's."""
        pool = client.connection_pool
        # redis-py's connection API is untyped: Any keeps mypy --strict honest about that.
        connection: Any = pool.get_connection()
        replies: list[Any] = []
        try:
            commands = [
                ("EVALSHA", self._scripts[name].sha, len(keys), *keys, *args)
                for name, keys, args in calls
            ]
            connection.send_packed_command(connection.pack_commands(commands))
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.exceptions.ResponseError as exc:
                    replies.append(exc)
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        for index, reply in enumerate(replies):
            if _no_script(reply):
                try:
                    replies[index] = self(*calls[index])
                except redis.exceptions.ResponseError as exc:
                    replies[index] = exc
        return replies

    def on_lane(self, lane: Lane, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name`` with one ``EVALSHA`` on ``lane``'s held connection (the hot path:
        no pool checkout); after a server restart (``NOSCRIPT``) the normal path loads it."""
        try:
            return lane.execute("EVALSHA", self._scripts[name].sha, len(keys), *keys, *args)
        except NoScriptError:
            return self(name, keys, args)


class AsyncScripts:
    """The scripts registered on one ``redis.asyncio`` client."""

    def __init__(self, client: aredis.Redis) -> None:
        self._scripts: dict[str, AsyncScript] = {
            n: client.register_script(source(n)) for n in NAMES
        }

    async def __call__(
        self, name: str, keys: list[str], args: list[Any], client: Any = None
    ) -> Any:
        """Run script ``name`` (on ``client``, e.g. a pipeline, if given)."""
        return await self._scripts[name](keys=keys, args=args, client=client)

    def queue(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """See :meth:`Scripts.queue`."""
        pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)

    async def execute(
        self, pipe: Any, calls: list[tuple[str, list[str], list[Any]] | None]
    ) -> list[Any]:
        """See :meth:`Scripts.execute`."""
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            call = calls[index] if index < len(calls) else None
            if call is not None and _no_script(reply):
                try:
                    replies[index] = await self(*call)
                except redis.exceptions.ResponseError as exc:
                    replies[index] = exc
        return replies
