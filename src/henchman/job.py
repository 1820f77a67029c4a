"""Defining jobs: the ``@job`` decorator, the ``Job`` base class, and the push methods both share.

Two styles, one definition (:class:`JobDefinition`) behind them::

    @henchman.job(queue="mailers", retry=5)
    def send_email(user_id: int) -> None: ...

    class HardJob(henchman.Job):
        queue = "critical"
        def perform(self, user_id: int) -> None: ...

Both get ``perform_async``/``perform_in``/``perform_at``/``perform_bulk``/``perform_inline``/``set``
and their ``a``-prefixed asyncio twins. The push methods only build an options mapping
and hand it to the app's client; all payload rules live in :mod:`henchman.payload` and
:mod:`henchman.client.plan`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

from henchman.app_default import default_app
from henchman.context import JobContext, current_job

if TYPE_CHECKING:
    from henchman.app import Henchman
    from henchman.batches.batch import Batch

#: Option names with a meaning to henchman; any other option is kept in the payload untouched.
KNOWN_OPTIONS = frozenset(
    {
        "queue",
        "retry",
        "retry_for",
        "retry_queue",
        "backtrace",
        "dead",
        "tags",
        "expires_in",
        "unique_for",
        "unique_until",
        "encrypt",
        "timeout",
        "log_level",
        "result_ttl",
    }
)
DEFAULT_OPTIONS: Mapping[str, Any] = {"queue": "default", "retry": True}

When = float | int | datetime
Delay = float | int | timedelta

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(eq=False)
class JobDefinition:
    """What the registry knows about one job: its wire name, options and how to run it."""

    name: str
    target: Any
    options: dict[str, Any]
    is_async: bool
    app: Henchman
    is_class: bool = False
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def bind(self, ctx: JobContext) -> Callable[..., Any]:
        """A callable that performs one execution of the job for ``ctx`` (sync or coroutine fn)."""
        if self.is_class:
            instance = self.target()
            instance._bind(ctx)
            ctx.instance = instance
            return instance.perform  # type: ignore[no-any-return]
        return self.target  # type: ignore[no-any-return]

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The job's ``retry_in`` / ``retries_exhausted`` hook, if it defines one."""
        if self.is_class:
            found = getattr(self.target, name, None)
            base = getattr(Job, name, None)
            return None if found is None or found is base else _unbound(self.target, name)
        return self.hooks.get(name)


@dataclass(frozen=True, slots=True)
class Signature:
    """One job with its arguments and options, to run later in a workflow (``job.s(*args)``;
    :mod:`henchman.batches.workflows` plans and pushes it)."""

    definition: JobDefinition
    args: tuple[Any, ...]
    options: dict[str, Any]

    def __repr__(self) -> str:
        return f"{self.definition.name}.s{self.args!r}"


def _unbound(cls: type, name: str) -> Callable[..., Any]:
    attr = inspect.getattr_static(cls, name)
    if isinstance(attr, staticmethod | classmethod):
        return getattr(cls, name)  # type: ignore[no-any-return]
    return lambda *args: getattr(cls(), name)(*args)  # noqa: PLW0108 - fresh instance per call


class Pushable:
    """The push API shared by decorated functions, ``Job`` classes and setters."""

    def _definition(self) -> JobDefinition:  # pragma: no cover - overridden
        raise NotImplementedError

    def _overrides(self) -> Mapping[str, Any]:
        return {}

    def _options(self) -> dict[str, Any]:
        definition = self._definition()
        return {**definition.options, **self._overrides()}

    def perform_async(self, *args: Any) -> str | None:
        """Enqueue now; return the jid (``None`` if a client middleware dropped the push)."""
        d = self._definition()
        return d.app.client.push(d.name, args, self._options())

    def perform_in(self, delay: Delay, *args: Any) -> str | None:
        """Enqueue after ``delay`` seconds (or a timedelta); a delay <= 0 enqueues now."""
        d = self._definition()
        return d.app.client.push(d.name, args, self._options(), delay=_seconds(delay))

    def perform_at(self, when: When, *args: Any) -> str | None:
        """Enqueue at ``when`` (datetime or epoch seconds); a past time enqueues now."""
        d = self._definition()
        return d.app.client.push(d.name, args, self._options(), at=_epoch(when))

    def perform_bulk(
        self, args_list: Iterable[Sequence[Any]], at: When | None = None, batch_size: int = 1000
    ) -> list[str]:
        """Enqueue one job per argument list, pipelined ``batch_size`` at a time; return jids."""
        d = self._definition()
        return d.app.client.push_bulk(
            d.name,
            args_list,
            self._options(),
            at=None if at is None else _epoch(at),
            batch_size=batch_size,
        )

    def perform_inline(self, *args: Any) -> Any:
        """Run the job now, in this process, through a JSON round trip and the server middleware."""
        d = self._definition()
        return d.app.run_inline(d, args, self._options())

    async def aperform_async(self, *args: Any) -> str | None:
        """Asyncio twin of :meth:`perform_async`."""
        d = self._definition()
        return await d.app.aclient.push(d.name, args, self._options())

    async def aperform_in(self, delay: Delay, *args: Any) -> str | None:
        """Asyncio twin of :meth:`perform_in`."""
        d = self._definition()
        return await d.app.aclient.push(d.name, args, self._options(), delay=_seconds(delay))

    async def aperform_at(self, when: When, *args: Any) -> str | None:
        """Asyncio twin of :meth:`perform_at`."""
        d = self._definition()
        return await d.app.aclient.push(d.name, args, self._options(), at=_epoch(when))

    async def aperform_bulk(
        self, args_list: Iterable[Sequence[Any]], at: When | None = None, batch_size: int = 1000
    ) -> list[str]:
        """Asyncio twin of :meth:`perform_bulk`."""
        d = self._definition()
        return await d.app.aclient.push_bulk(
            d.name,
            args_list,
            self._options(),
            at=None if at is None else _epoch(at),
            batch_size=batch_size,
        )

    def s(self, *args: Any) -> Signature:
        """A signature: this job with ``args``, to run later in a workflow (``henchman.chain``,
        ``group``, ``chord``)."""
        return Signature(self._definition(), tuple(args), self._options())

    def set(self, **options: Any) -> Setter:
        """A one-off setter: the same push methods with ``options`` overriding the job's."""
        return Setter(self._definition(), {**self._overrides(), **options})


class Setter(Pushable):
    """Returned by ``.set(...)``: pushes one job with overridden options."""

    def __init__(self, definition: JobDefinition, overrides: Mapping[str, Any]) -> None:
        self.__definition = definition
        self.__overrides = dict(overrides)

    def _definition(self) -> JobDefinition:
        return self.__definition

    def _overrides(self) -> Mapping[str, Any]:
        return self.__overrides


class JobFunction(Pushable):
    """A function decorated with ``@job``: still callable directly, plus the push methods."""

    def __init__(self, definition: JobDefinition) -> None:
        self.__definition = definition
        self.__wrapped__ = definition.target
        self.__name__ = getattr(definition.target, "__name__", definition.name)
        self.__doc__ = getattr(definition.target, "__doc__", None)

    def _definition(self) -> JobDefinition:
        return self.__definition

    @property
    def name(self) -> str:
        """The job's wire name (``class`` in the payload)."""
        return self.__definition.name

    def retry_in(
        self, fn: Callable[[int, BaseException, dict[str, Any]], Any]
    ) -> Callable[..., Any]:
        """Decorator registering the ``retry_in(count, exc, payload)`` hook."""
        self.__definition.hooks["retry_in"] = fn
        return fn

    def retries_exhausted(
        self, fn: Callable[[dict[str, Any], BaseException], Any]
    ) -> Callable[..., Any]:
        """Decorator registering the ``retries_exhausted(payload, exc)`` hook."""
        self.__definition.hooks["retries_exhausted"] = fn
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__definition.target(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<henchman job {self.__definition.name}>"


class _JobMeta(type):
    """Gives ``Job`` subclasses the push API as class-level calls (``HardJob.perform_async(1)``)."""

    def __getattr__(cls, name: str) -> Any:
        if name in _PUSH_METHODS and "__henchman__" in cls.__dict__:
            return getattr(_ClassPusher(cls.__dict__["__henchman__"]), name)
        raise AttributeError(name)


_PUSH_METHODS = frozenset(
    n for n in dir(Pushable) if n.startswith(("perform_", "aperform_")) or n in ("set", "s")
)


class _ClassPusher(Pushable):
    def __init__(self, definition: JobDefinition) -> None:
        self.__definition = definition

    def _definition(self) -> JobDefinition:
        return self.__definition


class Job(metaclass=_JobMeta):
    """Base class for class-style jobs. Implement ``perform(self, *args)`` (sync or ``async``).

    Options are class attributes (``queue = "critical"``) or an ``options`` mapping. Pass
    ``abstract=True`` in the class statement for a base class that defines no ``perform``, and
    ``name="HardJob"`` to set the wire name (e.g. to serve jobs pushed by Ruby).
    """

    options: ClassVar[Mapping[str, Any]] = {}
    jid: str
    retry_count: int
    queue: str

    def __init_subclass__(
        cls,
        *,
        abstract: bool = False,
        name: str | None = None,
        app: Henchman | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if abstract or "perform" not in _class_members(cls):
            return
        owner = app or default_app()
        options = {**DEFAULT_OPTIONS}
        for klass in reversed(cls.__mro__):
            options.update(klass.__dict__.get("options", {}) or {})
            for key in KNOWN_OPTIONS:
                value = klass.__dict__.get(key)
                if value is not None and not callable(value) and not isinstance(value, property):
                    options[key] = value
        definition = JobDefinition(
            name=name or f"{cls.__module__}.{cls.__qualname__}",
            target=cls,
            options=options,
            is_async=inspect.iscoroutinefunction(cls.perform),
            app=owner,
            is_class=True,
        )
        cls.__henchman__ = definition  # type: ignore[attr-defined]
        owner.registry.add(definition)

    def _bind(self, ctx: JobContext) -> None:
        self._ctx = ctx
        self.jid = ctx.jid
        self.retry_count = ctx.retry_count
        self.queue = ctx.queue

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose records carry this job's jid and class."""
        return self._ctx.logger

    @property
    def payload(self) -> dict[str, Any]:
        """The payload this execution was started from."""
        return self._ctx.payload

    @property
    def bid(self) -> str | None:
        """The id of the batch this job belongs to, or ``None``."""
        bid = self._ctx.payload.get("bid")
        return bid if isinstance(bid, str) and bid else None

    @property
    def batch(self) -> Batch | None:
        """This job's batch, reopened to add jobs to it (``with self.batch.jobs(): ...``), or
        ``None`` outside a batch."""
        bid = self.bid
        if bid is None:
            return None
        app: Henchman = self._ctx.app or default_app()
        return app.batch(bid)

    def interrupted(self) -> bool:
        """True once the process has begun to stop (TERM): long jobs should return early and
        will be requeued. Quieting alone (TSTP) does not interrupt."""
        return self._ctx.interrupted()


def _class_members(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is Job or klass is object:
            break
        names.update(klass.__dict__)
    return names


@overload
def job(fn: F, /) -> JobFunction: ...
@overload
def job(
    *, name: str | None = None, app: Henchman | None = None, **options: Any
) -> Callable[[F], JobFunction]: ...
def job(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    app: Henchman | None = None,
    **options: Any,
) -> JobFunction | Callable[[Callable[..., Any]], JobFunction]:
    """Turn a plain or ``async`` function into a job: ``@job`` or ``@job(queue=..., retry=5)``."""

    def decorate(target: Callable[..., Any]) -> JobFunction:
        owner = app or default_app()
        definition = JobDefinition(
            name=name or f"{target.__module__}.{target.__qualname__}",
            target=target,
            options={**DEFAULT_OPTIONS, **options},
            is_async=inspect.iscoroutinefunction(target),
            app=owner,
        )
        owner.registry.add(definition)
        return JobFunction(definition)

    return decorate if fn is None else decorate(fn)


def _seconds(delay: Delay) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


def _epoch(when: When) -> float:
    if isinstance(when, datetime):
        return when.timestamp()
    return float(when)


__all__ = ["Job", "JobDefinition", "JobFunction", "Setter", "current_job", "job"]
