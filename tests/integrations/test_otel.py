"""OpenTelemetry: a push inside a request span, run by a real worker process, yields a run span
whose parent is the push's span, itself a child of the request span (one trace); failures and
retries are recorded on the run span."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from henchman import keys
from henchman.app import Henchman
from henchman.integrations.otel import PushTracing, instrument
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for

# The worker's jobs module: the SDK with an exporter that writes each finished span as a JSON
# line (the test process cannot read the worker's in-memory exporter).
OTEL_JOBS = """
import json, os
import henchman
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from henchman.integrations.otel import instrument


class FileExporter(SpanExporter):
    def export(self, spans):
        with open(os.environ["SPANS_FILE"], "a") as out:
            for span in spans:
                out.write(json.dumps({
                    "name": span.name, "kind": span.kind.name,
                    "trace_id": span.context.trace_id, "span_id": span.context.span_id,
                    "parent_id": span.parent.span_id if span.parent else None,
                    "attributes": dict(span.attributes),
                    "status": span.status.status_code.name,
                    "events": [event.name for event in span.events],
                }) + "\\n")
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
instrument(henchman.default_app(), provider)


@henchman.job(name="Greet", retry=1)
def greet(name):
    if name == "fail":
        raise ValueError("no such user")
"""


@pytest.fixture
def client_side(app: Henchman) -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(app, provider)
    yield exporter, provider
    provider.shutdown()


def worker_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_span_in_the_worker_is_a_child_of_the_request_that_pushed(
    app: Henchman,
    redis_db: RedisDB,
    tmp_path: Path,
    client_side: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    exporter, provider = client_side
    (tmp_path / "proc_jobs.py").write_text(OTEL_JOBS)
    spans_file = tmp_path / "spans.jsonl"
    with provider.get_tracer("web").start_as_current_span("GET /signup", kind=SpanKind.SERVER):
        jid = app.enqueue("Greet", "ada")
        failing = app.enqueue("Greet", "fail")
    worker = start_worker(tmp_path, fast_env(redis_db.url, SPANS_FILE=str(spans_file)))
    try:
        wait_for(lambda: len(worker_spans(spans_file)) >= 2, what="the worker's two run spans")
        wait_for(lambda: redis_db.client.zcard(keys.RETRY) == 1, what="the failure's retry")
    finally:
        stop(worker)

    request, *sends = exporter.get_finished_spans()[::-1]
    assert request.name == "GET /signup"
    by_jid = {s.attributes["messaging.message.id"]: s for s in sends}  # type: ignore[index]
    send = by_jid[jid]
    assert send.kind is SpanKind.PRODUCER
    assert send.name == "send default"
    assert send.parent is not None
    assert send.parent.span_id == request.context.span_id
    runs = {s["attributes"]["messaging.message.id"]: s for s in worker_spans(spans_file)}
    run = runs[jid]
    assert run["kind"] == "CONSUMER"
    assert run["name"] == "process default"
    assert run["trace_id"] == request.context.trace_id
    assert run["parent_id"] == send.context.span_id
    assert run["attributes"]["messaging.system"] == "henchman"
    assert run["attributes"]["messaging.henchman.job_class"] == "Greet"
    assert run["status"] == "UNSET"
    failed = runs[failing]
    assert failed["status"] == "ERROR"
    assert failed["events"] == ["exception"]


def test_the_trace_context_travels_in_sidekiqs_fields(
    app: Henchman, redis_db: RedisDB, client_side: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    app.enqueue("Greet", "ada")
    payload = json.loads(redis_db.client.lindex(keys.queue("default"), 0) or b"{}")
    version, trace_id, span_id, flags = payload["traceparent"].split("-")
    assert (version, len(trace_id), len(span_id)) == ("00", 32, 16)
    assert int(flags, 16) & 1  # sampled


def test_instrumenting_twice_adds_nothing(app: Henchman) -> None:
    instrument(app)
    instrument(app)
    assert sum(isinstance(m, PushTracing) for m in app.client_middleware) == 1
    assert app.middleware.names().count("otel") == 1


def test_a_retry_records_its_count_on_the_run_span(app: Henchman, redis_db: RedisDB) -> None:
    from henchman.testing.worker import TestWorker

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrument(app, provider)

    @app.job(name="Flaky", retry=3)
    def flaky() -> None:
        raise RuntimeError("down")

    payload = {"retry_count": 1}
    app.client.push("Flaky", [], {"queue": "default", "retry": 3, **payload})
    with TestWorker(app) as worker:
        worker.wait_until(lambda: redis_db.client.zcard(keys.RETRY) == 1)
        worker.wait_until(lambda: any(s.kind is SpanKind.CONSUMER
                                      for s in exporter.get_finished_spans()))  # fmt: skip
    run = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER)
    assert run.attributes is not None
    assert run.attributes["messaging.henchman.retry_count"] == 1
    provider.shutdown()
