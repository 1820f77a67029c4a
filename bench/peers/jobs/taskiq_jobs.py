"""taskiq (asyncio) with taskiq-redis' RedisStreamBroker: ``taskiq worker taskiq_jobs:broker``."""

from __future__ import annotations

from record import URL, arecord
from taskiq_redis import RedisStreamBroker

ASYNC = True
broker = RedisStreamBroker(url=URL, queue_name="bench")


@broker.task(task_name="noop")
async def noop(enqueued_at: float) -> None:
    await arecord(enqueued_at)


async def connect() -> RedisStreamBroker:
    await broker.startup()  # creates the consumer group, so jobs pushed before the worker count
    return broker


async def push(_: RedisStreamBroker, enqueued_at: float) -> None:
    await noop.kiq(enqueued_at)


async def disconnect(b: RedisStreamBroker) -> None:
    await b.shutdown()
