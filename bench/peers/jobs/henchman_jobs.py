"""henchman: ``henchman run -r henchman_jobs -q bench``; pushes with perform_async/perform_bulk."""

from __future__ import annotations

import os

from record import URL, record

os.environ["REDIS_URL"] = URL  # the client side pushes to the benchmark server too

import henchman


@henchman.job(queue="bench")
def noop(enqueued_at: float) -> None:
    record(enqueued_at)


def connect() -> None:
    return None


def push(_: None, enqueued_at: float) -> None:
    noop.perform_async(enqueued_at)


def push_many(_: None, times: list[float]) -> None:
    noop.perform_bulk([[t] for t in times])
