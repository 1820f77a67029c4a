"""Run a worker inside another process: ``henchman.embed(...)``.

For a web app that also works its own queues (a FastAPI or Starlette lifespan, a plain asyncio
service, a script)::

    worker = henchman.embed(queues=["default"], concurrency=5)
    worker.start()      # returns once the worker fetches; jobs run on its own threads
    ...
    worker.quiet()      # optional: stop fetching, let running jobs finish
    worker.stop(10)     # wait up to 10 s, push unfinished jobs back to the head of their queues

    async with henchman.embed(queues=["default"]):   # the asyncio twin (lifespans)
        ...

It is the same launcher as ``henchman run``: reliable fetch, heartbeats (the process shows in the
Web UI with its tag), the scheduled-set poller and orphan recovery, minus what belongs to the host
process: no signal handlers are installed (the host owns its signals and calls :meth:`stop`),
no pidfile, no health port. Jobs are the ones registered in ``app`` (default: the default app)
by the modules the host imported. ``async def`` jobs run on the worker's own event loop in its
own thread, never on the host's loop, so a slow job cannot stall the host's requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from henchman.config import QueueSpec
from henchman.errors import ConfigError

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.server.launcher import Launcher

__all__ = ["EmbeddedWorker", "embed"]


class EmbeddedWorker:
    """A worker running on threads of the current process; see :func:`embed`."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher
        self._started = False

    @property
    def identity(self) -> str:
        """The process identity in the registry (``hostname:pid:nonce``)."""
        return self.launcher.identity

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._started and not self.launcher.done.is_set()

    def start(self) -> EmbeddedWorker:
        """Check the server, register, recover orphans and start fetching (returns then).

        Raises :class:`~henchman.errors.RedisUnavailable` when the server cannot be reached.
        """
        if self._started:
            raise ConfigError("this embedded worker was already started; embed() a new one")
        self.launcher.start()
        self._started = True  # only now is there something for stop() to undo
        return self

    def quiet(self) -> None:
        """Stop fetching new jobs; running ones finish."""
        if self.running:
            self.launcher.quiet()

    def stop(self, timeout: float | None = None) -> None:
        """Quiet, wait up to ``timeout`` s (default: the ``timeout`` setting) for running jobs,
        push the unfinished ones back to the head of their queues, unregister. Blocks."""
        if self._started:
            self.launcher.stop(timeout)

    async def astart(self) -> EmbeddedWorker:
        """Asyncio twin of :meth:`start` (runs it off the event loop)."""
        return await asyncio.to_thread(self.start)

    async def astop(self, timeout: float | None = None) -> None:
        """Asyncio twin of :meth:`stop` (runs it off the event loop)."""
        await asyncio.to_thread(self.stop, timeout)

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedWorker:
        return await self.astart()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()


def embed(
    app: Henchman | None = None,
    *,
    queues: Sequence[str | QueueSpec] | None = None,
    concurrency: int | None = None,
    async_concurrency: int | None = None,
    timeout: float | None = None,
    tag: str | None = None,
) -> EmbeddedWorker:
    """An embedded worker for ``app`` (default: the default app), not yet started.

    ``queues`` are names, ``"name,weight"`` strings or :class:`~henchman.QueueSpec`; the other
    arguments override the app's settings (which come from pyproject/YAML/environment as usual).
    Invalid values raise :class:`~henchman.errors.ConfigError` with one line.
    """
    from henchman.app import default_app
    from henchman.config_loader import parse_queue
    from henchman.server.launcher import Launcher

    app = app or default_app()
    changes: dict[str, object] = {}
    if queues is not None:
        specs = tuple(
            q if isinstance(q, QueueSpec) else parse_queue(q, "embed(queues=...)") for q in queues
        )
        if not specs:
            raise ConfigError("embed(queues=...) needs at least one queue")
        changes["queues"] = specs
    for name, value, low in (
        ("concurrency", concurrency, 1),
        ("async_concurrency", async_concurrency, 1),
        ("timeout", timeout, 0),
    ):
        if value is not None:
            if value < low:
                raise ConfigError(f"embed({name}=...) must be at least {low}, got {value!r}")
            changes[name] = value
    if tag is not None:
        changes["tag"] = tag
    return EmbeddedWorker(Launcher(app, app.settings.replace(**changes)))
