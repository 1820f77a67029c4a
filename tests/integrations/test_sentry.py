"""The Sentry hook: a failing job reaches Sentry's transport (a fake one: no network) with the
job's identity, and without its arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from henchman import keys
from henchman.app import Henchman
from henchman.integrations.sentry import report_errors
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB

#: An argument that must not reach Sentry (kept out of the job's source lines on purpose:
#: Sentry sends the lines around each frame).
CARD = "-".join(["4111"] * 4)


class RecordingTransport(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.headers.get("type") == "event" and item.payload.json is not None:
                self.events.append(item.payload.json)


@pytest.fixture
def transport() -> Iterator[RecordingTransport]:
    recording = RecordingTransport()
    # include_local_variables=False: Sentry would otherwise send the job function's locals,
    # its arguments among them (docs/integrations.md says so).
    sentry_sdk.init(dsn="https://public@sentry.invalid/1", transport=recording,
                    default_integrations=False, include_local_variables=False)  # fmt: skip
    yield recording
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client for the other tests


def test_a_failing_job_is_reported_with_its_identity_not_its_args(
    app: Henchman, redis_db: RedisDB, transport: RecordingTransport
) -> None:
    report_errors(app)
    report_errors(app)  # idempotent

    @app.job(name="Charge", queue="billing", retry=2)
    def charge(card_number: str) -> None:
        raise RuntimeError("card declined")

    jid = charge.perform_async(CARD)
    settings = app.settings.replace(queues=(*app.settings.queues, _queue("billing")))
    with TestWorker(app, settings) as worker:
        worker.wait_until(lambda: redis_db.client.zcard(keys.RETRY) == 1)
        worker.wait_until(lambda: transport.events)
    (event,) = transport.events
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "card declined"
    assert event["tags"]["henchman.class"] == "Charge"
    assert event["tags"]["henchman.queue"] == "billing"
    assert event["contexts"]["henchman job"]["jid"] == jid
    assert CARD not in json.dumps(event)


def _queue(name: str) -> Any:
    from henchman.config import QueueSpec

    return QueueSpec(name)
