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
from typing import TYPE_CHECKING, Any

from henchman import payload as wire
from henchman.app_default import DEFAULT, default_app
from henchman.batches.batch import Batch
from henchman.batches.finisher import BatchFinisher
from henchman.client.aio import AsyncClient
from henchman.client.buffer import PushBuffer
from henchman.client.capture import PushSink
from henchman.client.plan import ClientMiddleware, PushHook, plan_push
from henchman.client.replication import replica_wait
from henchman.client.sync import Client
from henchman.config import Settings
from henchman.context import JobContext
from henchman.crypto import Decryption, Encryptor, Keyring, keyring_from_settings
from henchman.errors import PayloadError, UnknownJob
from henchman.expiry import Expiry
from henchman.job import DEFAULT_OPTIONS, JobDefinition, JobFunction, job as _job
from henchman.keys import KeyLayout, layout_for
from henchman.limits.middleware import OverLimitRescheduler
from henchman.middleware.chain import Chain, JobRun
from henchman.middleware.job_logging import JobLogging
from henchman.middleware.metrics import Metrics
from henchman.periodic_schedule import Schedule, ScheduleBook, make_schedule
from henchman.redis.connection import Connector
from henchman.registry import Registry
from henchman.results.finisher import ResultFinisher
from henchman.results.middleware import Results

if TYPE_CHECKING:
    from henchman.server.processor import Finisher
from henchman.timeouts import JobTimeouts
from henchman.unique import UniqueLocks, UniquePush, release_on_death

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
        job.get("error_message") or str(exc),
        exc_info=None if isinstance(exc, UnknownJob | PayloadError) else exc,
        extra=extra,
    )


class Henchman:
    """A henchman application: jobs, middleware, handlers and connections."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self.registry = Registry()
        #: Server middleware, outermost first. Built in: ``expiry``, ``logging``, ``metrics``,
        #: ``unique`` (unique jobs' locks), ``limiter`` (OverLimit reschedules the job),
        #: ``encryption`` (opens ``encrypt=True`` arguments; a no-op for other jobs), ``results``,
        #: ``timeout`` (see docs/internals.md for what each does).
        unique = UniqueLocks(
            lambda queue: self.queue_client(queue).redis,
            lambda queue: self.queue_aclient(queue).redis,
        )
        self.middleware = Chain([
            Expiry(layout=lambda: self.keys), JobLogging(), Metrics(layout=lambda: self.keys),
            unique, OverLimitRescheduler(),
            Decryption(lambda: self.keyring), Results(self), JobTimeouts(),
        ])  # fmt: skip
        #: Client middleware run on every push, in order; one returning ``None`` drops the push.
        self.client_middleware: list[ClientMiddleware] = []
        #: Push hooks that turn some pushes into one Lua call (built in: unique jobs).
        self.push_hooks: list[PushHook] = [UniquePush(lambda: self.keys)]
        #: Consulted at every push of the sync client; a sink it returns takes the pushes
        #: instead of Redis (``henchman.django``'s push-on-commit is one).
        self.push_deferral: Callable[[], PushSink | None] | None = None
        #: Called with ``(exc, context)`` for every job failure and internal error.
        self.error_handlers: list[ErrorHandler] = [log_error]
        #: Called with ``(payload, exc)`` when a job dies (retries exhausted or killed).
        self.death_handlers: list[DeathHandler] = [
            release_on_death(lambda queue: self.queue_client(queue).redis)
        ]
        #: Builds each capsule's fetcher; ``None`` is the built-in reliable fetch. A replacement
        #: must acknowledge (see :func:`henchman.server.fetch.validate`) or the worker refuses
        #: to start.
        self.fetcher_factory: Callable[..., Any] | None = None
        #: See every job's outcome and may extend its final write (server side); built in:
        #: the batch accounting (``henchman.batches.finisher``).
        self.finishers: list[Finisher] = [BatchFinisher(self), ResultFinisher(self)]
        #: Periodic jobs registered with :meth:`periodic`.
        self.schedules = ScheduleBook()
        self._client: Client | None = None
        self._aclient: AsyncClient | None = None
        self._connector: Connector | None = None
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._keyring_loaded = False

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
    def keys(self) -> KeyLayout:
        """The key layout every Redis user of this app names its keys with: Sidekiq's, or the
        cluster layout in cluster mode."""
        return layout_for(self.settings.cluster)

    @property
    def keyring(self) -> Keyring | None:
        """Encryption keys: from :meth:`use_keyring`, else from the settings
        (``encryption_keys``), else None. Bad keys raise a one-line ConfigError."""
        if not self._keyring_loaded:
            found = keyring_from_settings(self.settings)
            with self._lock:
                if not self._keyring_loaded:
                    self._install_keyring(found)
        return self._keyring

    def use_keyring(self, keyring: Keyring) -> None:
        """Seal ``encrypt=True`` pushes with ``keyring`` and open them with it in workers."""
        with self._lock:
            self._install_keyring(keyring)

    def _install_keyring(self, keyring: Keyring | None) -> None:
        self._keyring, self._keyring_loaded = keyring, True
        if keyring is not None and not any(
            isinstance(m, Encryptor) for m in self.client_middleware
        ):
            self.client_middleware.append(Encryptor(lambda: self._keyring))

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
            _ = self.keyring  # keys from the settings add the sealing client middleware
            buffer = PushBuffer(settings.push_buffer_size) if settings.reliable_push else None
            connector = self.connector
            with self._lock:
                if self._client is None:
                    self._client = (Client if not settings.shards else _sharded(self, "sync"))(
                        connector.sync,
                        self.client_middleware,
                        buffer,
                        hooks=self.push_hooks,
                        replica_wait=replica_wait(settings),
                        layout=self.keys,
                    )
                    self._client.deferral = self.push_deferral
        return self._client

    @property
    def aclient(self) -> AsyncClient:
        """The asyncio client (one connection pool per event loop)."""
        if self._aclient is None:
            connector = self.connector
            sync = self.client
            with self._lock:
                if self._aclient is None:
                    sharded = self.settings.shards
                    self._aclient = (AsyncClient if not sharded else _sharded(self, "async"))(
                        connector.asyncio,
                        self.client_middleware,
                        buffer=sync.buffer,
                        fallback_writer=sync.write_now,
                        hooks=self.push_hooks,
                        replica_wait=sync.replica_wait,
                        layout=sync.layout,
                    )
        return self._aclient

    def queue_client(self, queue: str) -> Client:
        """The sync client of the server ``queue`` lives on: :attr:`client` itself unless
        ``shards`` route the queue elsewhere (where its unique locks and results live)."""
        client = self.client
        route = getattr(client, "for_queue", None)
        return client if route is None else route(queue)

    def queue_aclient(self, queue: str) -> AsyncClient:
        """The asyncio twin of :meth:`queue_client`."""
        client = self.aclient
        route = getattr(client, "for_queue", None)
        return client if route is None else route(queue)

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

    def batch(self, bid: str | None = None, **options: Any) -> Batch:
        """A new batch of this app (``description=``, ``callback_queue=``), or batch ``bid``
        reopened to add jobs to it (what a job's ``self.batch`` returns); see :class:`Batch`."""
        return Batch(bid, app=self, **options)

    def periodic(
        self,
        cron: str,
        job: Any,
        args: Sequence[Any] = (),
        *,
        queue: str | None = None,
        tz: str | None = None,
        missed: str = "skip",
        name: str | None = None,
        **options: Any,
    ) -> Schedule:
        """Enqueue ``job`` (a job, Job class or wire name) with ``args`` at every run of ``cron``
        in zone ``tz`` (UTC if None); see docs/periodic.md. ``missed="run_once"`` enqueues one
        catch-up run for ticks missed while no worker led. Invalid input raises ConfigError."""
        schedule = make_schedule(
            cron, job, args, queue=queue, tz=tz, missed=missed, name=name, **options
        )
        return self.schedules.add(schedule)

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
        _ = self.keyring
        plan = plan_push(definition.name, args, options, self.client_middleware, now=time.time())
        if plan is None:
            return None
        payload = wire.decode(plan.raw)
        return self.run_payload(definition, payload)

    def run_payload(self, definition: JobDefinition, payload: dict[str, Any]) -> Any:
        """Run ``payload`` with ``definition`` through the server middleware, in this thread."""
        ctx = JobContext(payload, str(payload.get("queue", "default")), app=self)
        token = ctx.activate()
        try:
            perform = definition.bind(ctx)
            run = JobRun(ctx)
            if definition.is_async:
                return _run_coroutine(
                    self.middleware.ainvoke(run, lambda: perform(*run.call_args()))
                )
            return self.middleware.invoke(run, lambda: perform(*run.call_args()))
        finally:
            JobContext.deactivate(token)


def _sharded(app: Henchman, kind: str) -> Any:
    """The client factory of a sharded app (``shards`` configured; see docs/scale.md)."""
    from henchman.shards import client

    return client.sync_factory(app) if kind == "sync" else client.async_factory(app)


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


# Features below this layer reach the default app through this seam (henchman.app_default).
DEFAULT.provide(Henchman)


__all__ = ["Henchman", "JobFunction", "default_app", "log_error"]
