"""The client side, run inside a system's environment: ``python -m driver MODULE COMMAND ...``.

    enqueue N            push N no-op jobs one by one; prints {"seconds": ...}
    bulk N               push N jobs with the system's bulk API; {"unsupported": true} if none
    latency N PAUSE W    W unmeasured pushes, then N pushes PAUSE seconds apart, each carrying
                         the time taken just before the push call

A system's module provides ``connect()`` (not timed), ``push(ctx, t)``, optionally
``push_many(ctx, ts)`` and ``disconnect(ctx)``; ``ASYNC = True`` when these are coroutines.
A module may instead provide ``run_client(argv)`` doing all of it (Ruby Sidekiq).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _timed_pushes(mod: Any, ctx: Any, times: Callable[[], float], n: int, pause: float) -> float:
    started = time.perf_counter()
    for _ in range(n):
        mod.push(ctx, times())
        if pause:
            time.sleep(pause)
    return time.perf_counter() - started


async def _atimed_pushes(
    mod: Any, ctx: Any, times: Callable[[], float], n: int, pause: float
) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await mod.push(ctx, times())
        if pause:
            await asyncio.sleep(pause)
    return time.perf_counter() - started


def main(argv: list[str]) -> dict[str, Any]:
    mod = importlib.import_module(argv[0])
    command, n = argv[1], int(argv[2])
    if hasattr(mod, "run_client"):
        return dict(mod.run_client(argv[1:]))
    if command == "bulk" and not hasattr(mod, "push_many"):
        return {"unsupported": True}
    is_async = getattr(mod, "ASYNC", False)
    loop = asyncio.new_event_loop() if is_async else None

    def call(value: Any) -> Any:
        return loop.run_until_complete(value) if loop is not None else value

    ctx = call(mod.connect())
    zero: Callable[[], float] = lambda: 0.0  # noqa: E731
    if command == "bulk":
        started = time.perf_counter()
        call(mod.push_many(ctx, [0.0] * n))
        seconds = time.perf_counter() - started
    elif command == "enqueue":
        pushes: Callable[..., Any] = _atimed_pushes if is_async else _timed_pushes
        seconds = call(pushes(mod, ctx, zero, n, 0.0))
    elif command == "latency":
        pause, warmup = float(argv[3]), int(argv[4])
        pushes = _atimed_pushes if is_async else _timed_pushes
        call(pushes(mod, ctx, zero, warmup, 0.0))
        time.sleep(0.5)
        seconds = call(pushes(mod, ctx, time.time, n, pause))
    else:
        raise SystemExit(f"unknown command {command!r}")
    if hasattr(mod, "disconnect"):
        call(mod.disconnect(ctx))
    return {"seconds": seconds, "n": n}




if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
