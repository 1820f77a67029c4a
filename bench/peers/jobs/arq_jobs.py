"""arq (asyncio): ``arq arq_jobs.Settings``; pushes with ArqRedis.enqueue_job."""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from record import address, arecord

ASYNC = True
_host, _port, _db = address()
REDIS = RedisSettings(host=_host, port=_port, database=_db)
#: Passed with --custom-log-dict: arq's own default logs two INFO lines per job.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "loggers": {"arq": {"handlers": ["stderr"], "level": "WARNING"}},
}


async def noop(_: dict[str, Any], enqueued_at: float) -> None:
    await arecord(enqueued_at)


class Settings:
    functions = [noop]  # noqa: RUF012 (arq reads plain class attributes)
    redis_settings = REDIS


async def connect() -> ArqRedis:
    return await create_pool(REDIS)


async def push(pool: ArqRedis, enqueued_at: float) -> None:
    await pool.enqueue_job("noop", enqueued_at)


async def disconnect(pool: ArqRedis) -> None:
    await pool.aclose()
