"""The limiter scripts (``lua/*.lua`` beside this module), each run as one EVALSHA.

Every script starts with ``lua/_prelude.lua``: it registers the limiter's definition when asked
and reads the server's clock, so the decisions of every process share one time source.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any, cast

import redis
import redis.asyncio as aredis

from henchman.redis.lane import Lane

NAMES = (
    "concurrent_acquire",
    "concurrent_release",
    "bucket",
    "window",
    "level",
    "level_adjust",
)


@cache
def source(name: str) -> str:
    """The full Lua source of script ``name`` (prelude included)."""
    folder = resources.files("henchman.limits").joinpath("lua")
    prelude = folder.joinpath("_prelude.lua").read_text("utf-8")
    return prelude + folder.joinpath(f"{name}.lua").read_text("utf-8")


@cache
def sha(name: str) -> str:
    """The SHA1 Redis knows script ``name`` by."""
    return hashlib.sha1(source(name).encode(), usedforsecurity=False).hexdigest()


def run(client: Any, name: str, keys: list[str], args: list[Any]) -> Any:
    """Run script ``name`` on ``client`` (a redis-py client or a :class:`~henchman.redis.lane.
    Lane`): EVALSHA, falling back to EVAL once if the server forgot it."""
    command = client.execute if isinstance(client, Lane) else client.execute_command
    try:
        return command("EVALSHA", sha(name), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return command("EVAL", source(name), len(keys), *keys, *args)


async def arun(client: aredis.Redis, name: str, keys: list[str], args: list[Any]) -> Any:
    """Asyncio twin of :func:`run`."""
    command = cast(Any, client).execute_command
    try:
        return await command("EVALSHA", sha(name), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return await command("EVAL", source(name), len(keys), *keys, *args)
