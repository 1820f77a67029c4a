"""RQ: ``rq worker bench`` (and SimpleWorker); pushes with Queue.enqueue / enqueue_many."""

from __future__ import annotations

from record import URL, record
from redis import Redis
from rq import Queue


def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> Queue:
    return Queue("bench", connection=Redis.from_url(URL))


def push(queue: Queue, enqueued_at: float) -> None:
    queue.enqueue(noop, enqueued_at)


def push_many(queue: Queue, times: list[float]) -> None:
    queue.enqueue_many([Queue.prepare_data(noop, (t,)) for t in times])
