"""Huey: RedisHuey; ``huey_consumer huey_jobs.huey``; pushes by calling the task."""

from __future__ import annotations

from huey import RedisHuey
from record import URL, record

huey = RedisHuey("bench", url=URL)


@huey.task()
def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> None:
    huey.storage.conn.ping()


def push(_: None, enqueued_at: float) -> None:
    noop(enqueued_at)
