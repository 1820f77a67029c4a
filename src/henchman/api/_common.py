"""Small helpers shared by the api modules: turning Redis replies into Python values tolerantly."""

from __future__ import annotations

from typing import Any

import redis


def text(value: Any) -> str:
    """A Redis reply (bytes) as text; undecodable bytes replaced, never raises."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def count(value: Any) -> int:
    """A counter-like reply as int; missing or not an integer reads as 0."""
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def members(client: redis.Redis, key: str) -> list[str]:
    """The members of SET ``key`` as sorted text, each once (SSCAN may repeat a member)."""
    return sorted({text(member) for member in client.sscan_iter(key)})
