"""OpenTelemetry tracing (the ``henchman[otel]`` extra, on ``opentelemetry-api``).

``instrument(app)`` adds two pieces to an app:

* a client middleware that opens a ``send <queue>`` span (kind PRODUCER) for every push and
  writes the current trace context into the payload, as top-level ``traceparent`` /
  ``tracestate`` fields: the W3C format Ruby's ``opentelemetry-instrumentation-sidekiq`` also
  writes into a job, so traces continue across Ruby and Python on a shared Redis;
* a server middleware that reads that context back and runs the job inside a ``process <queue>``
  span (kind CONSUMER) whose parent is the pusher's span, with the job's class, jid, retry count
  and the exception of a failed run (status ERROR) recorded on it.

Attributes follow OpenTelemetry's messaging semantic conventions (``messaging.system``,
``messaging.operation.type``/``.name``, ``messaging.destination.name``, ``messaging.message.id``)
plus ``messaging.henchman.job_class`` and ``messaging.henchman.retry_count``. The app brings its
own SDK and exporter; with none configured every call is the API's no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from henchman.middleware.chain import JobRun, Middleware

try:
    from opentelemetry import context as otel_context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, TracerProvider
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "henchman's OpenTelemetry integration needs opentelemetry-api: "
        "pip install 'henchman[otel]'"
    ) from exc

if TYPE_CHECKING:
    from henchman.app import Henchman

__all__ = ["PushTracing", "RunTracing", "instrument"]

SYSTEM = "henchman"
_TRACER_NAME = "henchman"


def _tracer(provider: TracerProvider | None) -> Tracer:
    from henchman.version import __version__

    return trace.get_tracer(_TRACER_NAME, __version__, tracer_provider=provider)


def _attributes(operation: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": queue,
        "messaging.henchman.job_class": str(payload.get("class")),
    }
    if isinstance(payload.get("jid"), str):
        attributes["messaging.message.id"] = payload["jid"]
    return attributes


class PushTracing:
    """Client middleware: a PRODUCER span per push, its context injected into the payload."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = _tracer(tracer_provider)

    def __call__(self, name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        with self._tracer.start_as_current_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=_attributes("send", payload, queue)
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # the PRODUCER span is current: it becomes the parent
            payload.update(carrier)
        return payload


class RunTracing(Middleware):
    """Server middleware: each run in a CONSUMER span, child of the span that pushed the job."""

    name = "otel"

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self._tracer = _tracer(tracer_provider)

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        with self._span(run):
            return call_next()

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        with self._span(run):
            return await call_next()

    @contextmanager
    def _span(self, run: JobRun) -> Iterator[None]:
        payload = run.payload
        carrier = {k: payload[k] for k in ("traceparent", "tracestate") if isinstance(
            payload.get(k), str)}  # fmt: skip
        parent = propagate.extract(carrier)
        attributes = _attributes("process", payload, run.queue)
        retry_count = payload.get("retry_count")
        if isinstance(retry_count, int):
            attributes["messaging.henchman.retry_count"] = retry_count
        token = otel_context.attach(parent)
        try:
            with self._tracer.start_as_current_span(
                f"process {run.queue}",
                kind=SpanKind.CONSUMER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    yield
                except BaseException as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                    raise
        finally:
            otel_context.detach(token)


def instrument(app: Henchman, tracer_provider: TracerProvider | None = None) -> None:
    """Trace ``app``'s pushes and runs (idempotent: a second call adds nothing)."""
    if not any(isinstance(m, PushTracing) for m in app.client_middleware):
        app.client_middleware.append(PushTracing(tracer_provider))
    if not any(isinstance(m, RunTracing) for m in app.middleware):
        app.middleware.prepend(RunTracing(tracer_provider))
