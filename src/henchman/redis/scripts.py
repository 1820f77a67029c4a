"""Lua scripts for every multi-step atomic operation, loaded from ``lua/*.lua``.

Each script is sent once with SCRIPT LOAD semantics (redis-py's ``Script`` object: EVALSHA, and
EVAL on NOSCRIPT after a server restart), so the hot path pays for the SHA only.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import redis
import redis.asyncio as aredis
from redis.commands.core import AsyncScript, Script
from redis.exceptions import NoScriptError

from henchman.redis.lane import Lane

NAMES = ("fetch", "ack", "requeue", "requeue_one", "schedule", "recover")


@cache
def source(name: str) -> str:
    """The Lua source of script ``name``."""
    return resources.files("henchman.redis").joinpath("lua", f"{name}.lua").read_text("utf-8")


class Scripts:
    """The scripts registered on one sync client."""

    def __init__(self, client: redis.Redis) -> None:
        self._scripts: dict[str, Script] = {n: client.register_script(source(n)) for n in NAMES}

    def __call__(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        """Run script ``name`` (on ``client``, e.g. a pipeline, if given)."""
        return self._scripts[name](keys=keys, args=args, client=client)

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
