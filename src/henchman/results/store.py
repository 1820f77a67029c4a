"""Reading and writing result records: thin shells over ``result_start.lua`` and
``result_write.lua`` (sync and asyncio), and ``HGETALL`` for reads."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

import redis

from henchman import keys
from henchman.redis.scripts import source
from henchman.results.record import ResultRecord

__all__ = ["ResultStore", "worker_name"]


def worker_name() -> str:
    """``hostname:pid``: how a result names the process of an attempt."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _flat(fields: Mapping[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


def _ms(ttl: float) -> int:
    return max(int(ttl * 1000), 1)


class ResultStore:
    """Result records on one Redis (sync and asyncio)."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._start = client.register_script(source("result_start"))
        self._write = client.register_script(source("result_write"))

    def read(self, jid: str) -> ResultRecord | None:
        """The record of ``jid``, or ``None`` (never kept, or expired)."""
        return ResultRecord.from_hash(jid, self._redis.hgetall(keys.result(jid)))

    def delete(self, jid: str) -> None:
        """Forget the record of ``jid``."""
        self._redis.delete(keys.result(jid))

    def write(self, jid: str, fields: Mapping[str, str], ttl: float) -> None:
        """Set ``fields`` and refresh the TTL."""
        self._write(keys=[keys.result(jid)], args=[_ms(ttl), *_flat(fields)])

    @staticmethod
    def write_call(jid: str, fields: Mapping[str, str], ttl: float) -> tuple[list[str], list[Any]]:
        """(KEYS, ARGV) of ``result_write.lua`` for :meth:`write`, for a caller that sends it in
        a round trip of its own (with a job's acknowledgement)."""
        return [keys.result(jid)], [_ms(ttl), *_flat(fields)]

    def start(self, jid: str, fields: Mapping[str, str], ttl: float) -> None:
        """A run starts: set ``fields``, count the attempt, append this process."""
        self._start(keys=[keys.result(jid)], args=[_ms(ttl), worker_name(), *_flat(fields)])


