"""The server middleware chain.

A middleware is an object with two hooks, both optional (the base class passes through)::

    class Timing(henchman.Middleware):
        def call(self, run, call_next):           # around sync jobs
            started = time.monotonic()
            try:
                return call_next()
            finally:
                run.context.logger.info("took %.3f", time.monotonic() - started)

        async def acall(self, run, call_next):    # around async jobs
            return await call_next()

Returning without calling ``call_next`` skips the job (it counts as done). Exceptions propagate to
the retry logic. The chain is ordered: the first entry is the outermost. Built-in pieces are
ordinary entries (see ``docs/internals.md`` for the order), so users can insert before or after
them by name or remove them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from henchman.context import JobContext


@dataclass(eq=False, slots=True)
class JobRun:
    """What a middleware sees: the job's context (payload, queue, jid, logger) and its instance."""

    context: JobContext
    #: The arguments ``perform`` receives when a middleware replaced them (decryption hands the
    #: job its plaintext this way, leaving the payload sealed); ``None`` means the payload's.
    args: list[Any] | None = None

    def call_args(self) -> list[Any]:
        """The arguments ``perform`` will receive."""
        if self.args is not None:
            return self.args
        args: list[Any] = self.context.payload["args"]  # no copy: the hot path
        return args

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded payload; changes are visible to later middleware and to retries."""
        return self.context.payload

    @property
    def queue(self) -> str:
        """The queue the job was fetched from."""
        return self.context.queue

    @property
    def job(self) -> Any:
        """The ``Job`` instance for class-style jobs, else ``None``."""
        return self.context.instance


class Middleware:
    """Base class: both hooks pass straight through. Override one or both."""

    #: Name used by :meth:`Chain.insert_before` / :meth:`Chain.remove`; defaults to the class name.
    name: str = ""

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        """Wrap a sync job. Call ``call_next()`` to run the rest of the chain and the job."""
        return call_next()

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        """Wrap an async job. ``await call_next()`` to run the rest of the chain and the job."""
        return await call_next()


def _name(entry: Middleware) -> str:
    return entry.name or type(entry).__name__


class Chain:
    """An ordered, editable list of middleware; thread-safe to edit, snapshot on every run."""

    def __init__(self, entries: list[Middleware] | None = None) -> None:
        self._entries: tuple[Middleware, ...] = tuple(entries or ())
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Middleware]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Entry names, outermost first."""
        return [_name(e) for e in self._entries]

    def add(self, entry: Middleware) -> None:
        """Append ``entry`` (innermost)."""
        with self._lock:
            self._entries = (*self._entries, entry)

    def prepend(self, entry: Middleware) -> None:
        """Insert ``entry`` first (outermost)."""
        with self._lock:
            self._entries = (entry, *self._entries)

    def insert_before(self, name: str, entry: Middleware) -> None:
        """Insert ``entry`` just outside the entry named ``name``."""
        self._insert(name, entry, 0)

    def insert_after(self, name: str, entry: Middleware) -> None:
        """Insert ``entry`` just inside the entry named ``name``."""
        self._insert(name, entry, 1)

    def remove(self, name: str) -> None:
        """Remove every entry named ``name``."""
        with self._lock:
            self._entries = tuple(e for e in self._entries if _name(e) != name)

    def _insert(self, name: str, entry: Middleware, offset: int) -> None:
        with self._lock:
            names = [_name(e) for e in self._entries]
            if name not in names:
                raise KeyError(f"no middleware named {name!r} (have: {', '.join(names)})")
            at = names.index(name) + offset
            self._entries = (*self._entries[:at], entry, *self._entries[at:])

    def invoke(self, run: JobRun, perform: Callable[[], Any]) -> Any:
        """Run ``perform`` inside every entry's ``call``."""
        # Built inside out with partial (C code): each entry costs one Python frame, its own.
        call_next = perform
        for entry in reversed(self._entries):
            call_next = functools.partial(entry.call, run, call_next)
        return call_next()

    async def ainvoke(self, run: JobRun, perform: Callable[[], Awaitable[Any]]) -> Any:
        """Await ``perform`` inside every entry's ``acall``."""
        entries = self._entries
        if not entries:
            return await perform()

        async def step(index: int) -> Any:
            if index == len(entries):
                return await perform()
            return await entries[index].acall(run, lambda: step(index + 1))

        return await step(0)
