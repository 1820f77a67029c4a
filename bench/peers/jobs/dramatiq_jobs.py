"""Dramatiq: RedisBroker with its default middleware; ``dramatiq dramatiq_jobs``."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from record import URL, record

broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench")
def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> None:
    broker.client.ping()


def push(_: None, enqueued_at: float) -> None:
    noop.send(enqueued_at)
