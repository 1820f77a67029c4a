"""Celery: Redis broker, no result backend; ``celery -A celery_jobs worker``."""

from __future__ import annotations

from celery import Celery
from record import URL, record

app = Celery("bench", broker=URL)
app.conf.broker_connection_retry_on_startup = True


@app.task(name="bench.noop", ignore_result=True)
def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> None:
    app.connection_for_write().ensure_connection(max_retries=3)


def push(_: None, enqueued_at: float) -> None:
    noop.delay(enqueued_at)
