"""The job registry: wire name -> job definition.

Payloads name their job by string (``class``). The worker resolves that string only through this
registry, which is filled by defining jobs (``@job`` or subclassing ``Job``) in modules the worker
was told to import (``-r``). A payload can never make henchman import a module.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from henchman.errors import UnknownJob

if TYPE_CHECKING:
    from henchman.job import JobDefinition


class Registry:
    """A thread-safe mapping of job names to definitions."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobDefinition] = {}
        self._lock = threading.Lock()

    def add(self, definition: JobDefinition) -> None:
        """Register ``definition`` under its name; a second, different job with the name fails."""
        with self._lock:
            existing = self._jobs.get(definition.name)
            if existing is not None and existing.target is not definition.target:
                # Re-importing the same module (e.g. under two paths) is harmless only when the
                # target is the same object; two different jobs sharing a wire name is a bug.
                if _same_source(existing, definition):
                    self._jobs[definition.name] = definition
                    return
                raise ValueError(
                    f"two different jobs are named {definition.name!r}; "
                    "give one of them another name=..."
                )
            self._jobs[definition.name] = definition

    def get(self, name: str) -> JobDefinition:
        """The definition registered as ``name``; :class:`UnknownJob` if there is none."""
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJob(f"no job registered as {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[JobDefinition]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    def has_async(self) -> bool:
        """Whether any registered job is ``async def``."""
        return any(d.is_async for d in self._jobs.values())

    def has_sync(self) -> bool:
        """Whether any registered job is a plain ``def``."""
        return any(not d.is_async for d in self._jobs.values())


def _source(definition: JobDefinition) -> tuple[str, int] | None:
    """Where a job's code is defined (file, first line): the same module imported twice has the
    same source; two different jobs do not."""
    target = definition.target
    code = getattr(getattr(target, "perform", target), "__code__", None)
    if code is None:
        return None
    return (code.co_filename, code.co_firstlineno)


def _same_source(a: JobDefinition, b: JobDefinition) -> bool:
    source = _source(a)
    return source is not None and source == _source(b) and a.is_async == b.is_async
