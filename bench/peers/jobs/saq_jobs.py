"""SAQ (asyncio): ``saq saq_jobs.settings``; pushes with Queue.enqueue."""

from __future__ import annotations

from typing import Any

from record import URL, arecord
from saq import Queue

ASYNC = True
queue = Queue.from_url(URL, name="bench")


async def noop(_: dict[str, Any], *, enqueued_at: float) -> None:
    await arecord(enqueued_at)


settings = {"queue": queue, "functions": [noop]}


async def connect() -> Queue:
    await queue.connect()
    return queue


async def push(q: Queue, enqueued_at: float) -> None:
    await q.enqueue("noop", enqueued_at=enqueued_at)


async def disconnect(q: Queue) -> None:
    await q.disconnect()
