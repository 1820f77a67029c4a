"""Polling for a condition in end-to-end tests (a worker runs jobs on other threads)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.01) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; return it.

    Raises ``TimeoutError`` if it is still falsy after ``timeout`` seconds (it is always called
    at least once, and once more at the deadline).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"condition {getattr(predicate, '__qualname__', predicate)!r} still false "
                f"after {timeout} s"
            )
        time.sleep(interval)
