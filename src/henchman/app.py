"""The application object: registry, middleware, handlers, settings and clients in one value.

Everything a job system needs is reachable from a :class:`Henchman` instance and passed to the
objects that need it. For the convenience API (``@henchman.job``, ``henchman.enqueue``) there is
one explicit default instance, :func:`default_app`, created on first use; it reads its settings
(pyproject/YAML/env) lazily at the first push, never at import time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from henchman import payload as wire
from henchman.client.aio import AsyncClient
from henchman.client.buffer import PushBuffer
from henchman.client.plan import ClientMiddleware, plan_push
from henchman.client.replication import replica_wait
from henchman.client.sync import Client
from henchman.config import Settings
from henchman.context import JobContext
from henchman.errors import UnknownJob
from henchman.job import DEFAULT_OPTIONS, JobDefinition, JobFunction, job as _job
from henchman.middleware.chain import Chain, JobRun
from henchman.middleware.job_logging import JobLogging
from henchman.middleware.metrics import Metrics
from henchman.redis.connection import Connector
from henchman.registry import Registry

log = logging.getLogger("henchman")

ErrorHandler = Callable[[BaseException, dict[str, Any]], Any]
DeathHandler = Callable[[dict[str, Any], BaseException], Any]


def log_error(exc: BaseException, context: dict[str, Any]) -> None:
    """The default error handler: log the failure (like Sidekiq's) with the job's ``class``,
    ``jid`` and ``queue`` as record fields, and the traceback when the job's code ran: for a job
    no worker registered, the traceback would show only henchman's own lookup."""
    job = context.get("job") or {}
    extra = {"jid": job.get("jid"), "job_class": job.get("class"), "queue": context.get("queue")}
    log.warning(
        "job %s (%s) failed: %s: %s",
        job.get("jid"),
        job.get("class"),
        type(exc).__qualname__,
        job.get("error_message", ""),
        exc_info=None if isinstance(exc, UnknownJob) else exc,
        extra=extra,
    )


class Henchman:
    """A henchman application: jobs, middleware, handlers and connections."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self.registry = Registry()
        #: Server middleware, outermost first (SPEC §4.2). Built in: ``logging``, ``metrics``.
        self.middleware = Chain([JobLogging(), Metrics()])
        #: Client middleware run on every push, in order; one returning ``None`` drops the push.
        self.client_middleware: list[ClientMiddleware] = []
        #: Called with ``(exc, context)`` for every job failure and internal error.
        self.error_handlers: list[ErrorHandler] = [log_error]
        #: Called with ``(payload, exc)`` when a job dies (retries exhausted or killed).
        self.death_handlers: list[DeathHandler] = []
        #: Builds each capsule's fetcher; ``None`` is the built-in reliable fetch. A replacement
        #: must acknowledge (see :func:`henchman.server.fetch.validate`) or the worker refuses
        #: to start.
        self.fetcher_factory: Callable[..., Any] | None = None
        self._client: Client | None = None
        self._aclient: AsyncClient | None = None
        self._connector: Connector | None = None
        self._lock = threading.Lock()

    # --- configuration --------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings, loaded from pyproject/YAML/environment on first use if not given."""
        if self._settings is None:
            from henchman.config_loader import load_settings

            self._settings = load_settings(env=os.environ)
        return self._settings

    def configure(self, settings: Settings) -> None:
        """Use ``settings`` from now on (closes clients opened with the old ones)."""
        self.close()
        self._settings = settings

    @property
    def connector(self) -> Connector:
        """Opens connections to the configured (or embedded) server."""
        with self._lock:
            if self._connector is None:
                self._connector = Connector(self.settings)
            return self._connector

    @property
    def client(self) -> Client:
        """The sync client (reliable push on unless ``reliable_push=False``)."""
        if self._client is None:
            settings = self.settings
            buffer = PushBuffer(settings.push_buffer_size) if settings.reliable_push else None
            connector = self.connector
            with self._lock:
                if self._client is None:
                    self._client = Client(
                        connector.sync,
                        self.client_middleware,
                        buffer,
                        replica_wait=replica_wait(settings),
                    )
        return self._client

    @property
    def aclient(self) -> AsyncClient:
        """The asyncio client (one connection pool per event loop)."""
        if self._aclient is None:
            connector = self.connector
            sync = self.client
            with self._lock:
                if self._aclient is None:
                    self._aclient = AsyncClient(
                        connector.asyncio,
                        self.client_middleware,
                        buffer=sync.buffer,
                        fallback_writer=sync.write_now,
                        replica_wait=sync.replica_wait,
                    )
        return self._aclient

    def close(self) -> None:
        """Flush buffered pushes and close the sync client."""
        with self._lock:
            client, self._client = self._client, None
            self._aclient = None
            self._connector = None
        if client is not None:
            client.close()

    # --- jobs -------------------------------------------------------------------------------------

    def job(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """``@app.job`` / ``@app.job(queue=...)``: define a job registered in this app."""
        decorate = _job(app=self, **options)
        return decorate if fn is None else decorate(fn)

    def enqueue(self, name: str, *args: Any, **options: Any) -> str | None:
        """Push a job by its wire name (for jobs defined elsewhere, e.g. in Ruby)."""
        return self.client.push(name, args, {**DEFAULT_OPTIONS, **options})

    def enqueue_in(self, delay: float, name: str, *args: Any, **options: Any) -> str | None:
        """Push a job by wire name to run after ``delay`` seconds."""
        return self.client.push(name, args, {**DEFAULT_OPTIONS, **options}, delay=delay)

    def enqueue_at(self, when: float, name: str, *args: Any, **options: Any) -> str | None:
        """Push a job by wire name to run at epoch ``when``."""
        return self.client.push(name, args, {**DEFAULT_OPTIONS, **options}, at=when)

    def run_inline(
        self, definition: JobDefinition, args: Sequence[Any], options: Mapping[str, Any]
    ) -> Any:
        """Run a job now in this process: JSON round trip, server middleware, return its result.

        Exceptions propagate to the caller; nothing is written to Redis.
        """
        plan = plan_push(definition.name, args, options, self.client_middleware, now=time.time())
        if plan is None:
            return None
        payload = wire.decode(plan.raw)
        return self.run_payload(definition, payload)

    def run_payload(self, definition: JobDefinition, payload: dict[str, Any]) -> Any:
        """Run ``payload`` with ``definition`` through the server middleware, in this thread."""
        ctx = JobContext(payload, str(payload.get("queue", "default")))
        token = ctx.activate()
        try:
            perform = definition.bind(ctx)
            call_args = payload["args"]
            run = JobRun(ctx)
            if definition.is_async:
                return _run_coroutine(self.middleware.ainvoke(run, lambda: perform(*call_args)))
            return self.middleware.invoke(run, lambda: perform(*call_args))
        finally:
            JobContext.deactivate(token)


def _run_coroutine(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (e.g. an async test): run on a private loop in a thread.
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


_default: Henchman | None = None
_default_lock = threading.Lock()


def default_app() -> Henchman:
    """The explicit default application used by ``@henchman.job`` and ``henchman.enqueue``."""
    global _default  # noqa: PLW0603 - the one explicit default instance (SPEC §1.2)
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Henchman()
    return _default


__all__ = ["Henchman", "JobFunction", "default_app", "log_error"]
