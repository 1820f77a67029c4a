"""Not a job system: the floor of a Python worker. LPUSH a JSON message; one thread BRPOPs,
decodes and calls. No acknowledgement, retry or bookkeeping (``python -m reference_jobs``)."""

from __future__ import annotations

import json

import redis
from record import URL, record

QUEUE = "reference:queue"


def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> redis.Redis:
    return redis.Redis.from_url(URL)


def push(client: redis.Redis, enqueued_at: float) -> None:
    client.lpush(QUEUE, json.dumps({"f": "noop", "a": [enqueued_at]}))


def push_many(client: redis.Redis, times: list[float]) -> None:
    pipe = client.pipeline(transaction=False)
    for t in times:
        pipe.lpush(QUEUE, json.dumps({"f": "noop", "a": [t]}))
    pipe.execute()


def work() -> None:
    client = redis.Redis.from_url(URL)
    functions = {"noop": noop}
    while True:
        popped = client.brpop([QUEUE], timeout=1)
        if popped:
            message = json.loads(popped[1])
            functions[message["f"]](*message["a"])


if __name__ == "__main__":
    work()
