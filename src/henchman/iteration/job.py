"""``henchman.IterableJob``: jobs that checkpoint between items and resume.

::

    class ImportUsers(henchman.IterableJob):
        queue = "imports"

        def build_enumerator(self, path, *, cursor):
            return enumerators.csv_rows(path, cursor)

        def each_iteration(self, row, path):
            create_user(row)

A subclass implements ``build_enumerator(*args, cursor)`` (an iterator of ``(item, cursor)``
pairs, see :mod:`henchman.iteration.enumerators`) and ``each_iteration(item, *args)``, never
``perform``: IterableJob's own ``perform`` runs the loop (:mod:`henchman.iteration.loop`), so the
worker runs iterable jobs like any other job. When ``each_iteration`` is ``async def`` the job is
an async job: ``build_enumerator`` may then return an async iterator, and every callback may be
sync or ``async``.

Before each item the job stops if the process is quieting or stopping or the run has lasted
``max_iteration_runtime`` seconds: it saves the cursor of that (unprocessed) item and is pushed
back to its queue without using a retry. An exception saves the cursor of the failing item and
follows the normal retries; the retry resumes at that item.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from henchman.iteration import aloop, loop
from henchman.iteration.offload import TempFiles, check_names
from henchman.iteration.progress import ProcessedIds, RowLedger
from henchman.iteration.state import FLUSH_INTERVAL
from henchman.iteration.stores import FileStore, store_from_url
from henchman.job import Job

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aredis

    from henchman.app import Henchman

DAY = 24 * 3600.0


class IterableJob(Job, abstract=True):
    """Base class of iterable jobs: implement ``build_enumerator`` and ``each_iteration``.

    Class attributes (all optional):

    - ``max_iteration_runtime``: seconds one run may last before it checkpoints and goes to the
      back of its queue (default ``None``: no limit). A push may override it with
      ``.set(max_iteration_runtime=...)``.
    - ``temp_files``: names of temporary files the job builds (see :meth:`temp_file`).
    - ``file_store``: where temp files wait between runs (default: from the ``offload_url``
      setting, else ``<home>/offload``); ``temp_file_ttl`` seconds they are kept (7 days).
    - ``keep_ledger_for``: seconds the row ledger outlives completion (7 days; 0 = delete it).
    """

    max_iteration_runtime: ClassVar[float | None] = None
    temp_files: ClassVar[tuple[str, ...]] = ()
    temp_file_ttl: ClassVar[float] = 7 * DAY
    file_store: ClassVar[FileStore | None] = None
    keep_ledger_for: ClassVar[float] = 7 * DAY
    #: Seconds between periodic state writes: Sidekiq's 5 s; changed only by tests.
    _flush_interval: ClassVar[float] = FLUSH_INTERVAL

    _run: loop.Run | None = None
    #: The asyncio connection of the current run of an async job (opened and closed by the run).
    _aclient: aredis.Redis | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "perform" in cls.__dict__:
            raise TypeError(
                f"{cls.__qualname__} is an iterable job: implement build_enumerator() and "
                "each_iteration(), not perform()"
            )
        check_names(cls.temp_files)
        is_async = inspect.iscoroutinefunction(cls.each_iteration)
        cls.perform = _perform_async if is_async else _perform_sync  # type: ignore[attr-defined]
        super().__init_subclass__(**kwargs)

    # --- what a subclass implements -------------------------------------------------------------

    def build_enumerator(
        self, *args: Any, cursor: Any
    ) -> Iterator[tuple[Any, Any]] | AsyncIterator[tuple[Any, Any]] | None:
        """Return an iterator of ``(item, cursor)`` pairs starting at ``cursor`` (``None``: from
        the beginning). ``None`` means there is nothing to do."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement build_enumerator()")

    def each_iteration(self, item: Any, *args: Any) -> Any:
        """Process one item; ``args`` are the job's arguments."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement each_iteration()")

    # --- callbacks: no-ops unless overridden ----------------------------------------------------

    def on_start(self) -> Any:
        """Called in the first run (or one that starts over because its temp files were lost),
        after ``build_enumerator``."""

    def on_resume(self) -> Any:
        """Called in every later run (after an interruption or an error), after
        ``build_enumerator``."""

    def on_stop(self) -> Any:
        """Called at the end of every run: completed, interrupted, cancelled or failed."""

    def on_cancel(self) -> Any:
        """Called when the job finds it was cancelled (:func:`henchman.cancel`)."""

    def on_complete(self) -> Any:
        """Called after the last item, before the job's state is deleted."""

    def around_iteration(self) -> Any:
        """A context manager entered around each ``each_iteration`` call (async jobs may return
        an async one); ``self.cursor`` is the item's cursor. Default: does nothing."""
        return contextlib.nullcontext()

    # --- what the job can read and use ----------------------------------------------------------

    @property
    def cursor(self) -> Any:
        """The cursor of the item being processed (the resume cursor before the first)."""
        return self._run.checkpoint.cursor if self._run else None

    @property
    def executions(self) -> int:
        """How many runs this job has started, this one included."""
        return self._run.checkpoint.executions if self._run else 0

    @property
    def progress(self) -> ProcessedIds:
        """This job's processed-id set (``done(id)``, ``is_done(id)``)."""
        return ProcessedIds(self.jid, self._sync_redis, self._async_redis, self.app.keys)

    @property
    def ledger(self) -> RowLedger:
        """This job's row ledger (``processed(row)``, ``failed(row, *messages)``)."""
        return RowLedger(self.jid, self._sync_redis, self._async_redis, self.app.keys)

    def temp_file(self, name: str) -> Path:
        """The local path of temp file ``name`` (one of ``temp_files``) for this run: restored
        from the store when the run resumes, uploaded when it is interrupted or fails."""
        if self._run is None or self._run.files is None:
            raise RuntimeError(f"{name!r}: temp files exist only while the job runs")
        return self._run.files.path(name)

    # --- plumbing -------------------------------------------------------------------------------

    @property
    def app(self) -> Henchman:
        """The app this job is registered in."""
        app: Henchman = type(self).__henchman__.app
        return app

    def _sync_redis(self) -> redis.Redis:
        return self.app.client.redis

    def _async_redis(self) -> aredis.Redis:
        return self._aclient if self._aclient is not None else self.app.aclient.redis

    def _runtime_limit(self) -> float | None:
        value = self.payload.get("max_iteration_runtime", type(self).max_iteration_runtime)
        return float(value) if isinstance(value, int | float) and value > 0 else None

    def _temp_files(self) -> TempFiles | None:
        cls = type(self)
        if not cls.temp_files:
            return None
        settings = self.app.settings
        store = cls.file_store or store_from_url(settings.offload_url, settings.home)
        return TempFiles(
            self.jid,
            cls.temp_files,
            store,
            self._sync_redis,
            ttl=cls.temp_file_ttl,
            layout=self.app.keys,
        )


def _perform_sync(self: IterableJob, *args: Any) -> None:
    loop.run(self, args)


async def _perform_async(self: IterableJob, *args: Any) -> None:
    await aloop.arun(self, args)


__all__ = ["IterableJob"]
