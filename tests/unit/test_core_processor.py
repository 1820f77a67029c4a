"""The processor's decisions: which single ``ack.lua`` call ends each job. Pure: a fixed
clock and seeded randomness, no Redis."""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson
import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import UnknownJob
from henchman.server.fetch import UnitOfWork
from henchman.server.invalid import INVALID_PAYLOAD_CLASS
from henchman.server.processor import Begun, Processor, Write
from henchman.server.stats import Counters

NOW = 1700000000.5
WORKING = "henchman:working:me:1:x:default"
SETTINGS = Settings(redis_url="redis://127.0.0.1:1", dead_max_jobs=7, dead_timeout=100.0)


@pytest.fixture
def app() -> Iterator[Henchman]:
    application = Henchman(SETTINGS)
    application.error_handlers.clear()
    yield application
    application.close()


@pytest.fixture
def counters() -> Counters:
    return Counters()


@pytest.fixture
def processor(app: Henchman, counters: Counters) -> Processor:
    return Processor(
        app, SETTINGS, counters, lambda: False, clock=lambda: NOW, rng=random.Random(0)
    )


def unit(raw: bytes) -> UnitOfWork:
    return UnitOfWork("default", raw, WORKING)


def payload(name: str = "core.proc", **extra: object) -> bytes:
    return orjson.dumps(
        {"class": name, "args": [], "jid": "e" * 24, "queue": "default", "retry": True, **extra}
    )


def test_a_non_json_unit_becomes_a_dead_write(processor: Processor) -> None:
    write = processor.begin(unit(b"<html>"))
    assert isinstance(write, Write)
    assert write.keys == [WORKING, keys.DEAD]
    raw, score, record, cutoff, limit = write.args
    assert raw == b"<html>"
    assert score == repr(NOW)
    assert cutoff == repr(NOW - 100.0)
    assert limit == 7
    data = orjson.loads(record)
    assert data["class"] == INVALID_PAYLOAD_CLASS
    assert data["args"] == []
    assert data["raw_payload"] == "<html>"
    assert data["error_message"].startswith("payload is not valid JSON")
    assert data["failed_at"] == NOW


def test_an_unreadable_unit_counts_as_failed(processor: Processor, counters: Counters) -> None:
    processor.begin(unit(b"nope"))
    assert counters.take() == (1, 1)


def test_an_unregistered_name_begins_with_an_unknown_job_error(processor: Processor) -> None:
    begun = processor.begin(unit(payload("x.y")))
    assert isinstance(begun, Begun)
    assert isinstance(begun.error, UnknownJob)
    assert str(begun.error) == "no job registered as 'x.y'"


def test_a_registered_name_begins_with_its_definition(app: Henchman, processor: Processor) -> None:
    app.job(name="core.proc")(lambda: None)
    begun = processor.begin(unit(payload()))
    assert isinstance(begun, Begun)
    assert begun.definition is app.registry.get("core.proc")


def test_success_is_an_acknowledge_only_write(processor: Processor, counters: Counters) -> None:
    begun = processor.begin(unit(payload("x.y")))
    assert isinstance(begun, Begun)
    write = processor.conclude(unit(payload("x.y")), begun, None)
    assert write.args == [payload("x.y"), "", ""]
    assert counters.take() == (1, 0)


def test_a_failure_is_a_retry_write_with_the_new_payload(processor: Processor) -> None:
    raw = payload("x.y")
    begun = processor.begin(unit(raw))
    assert isinstance(begun, Begun)
    write = processor.conclude(unit(raw), begun, RuntimeError("bad"))
    assert write.keys == [WORKING, keys.RETRY]
    original, score, new, *_ = write.args
    assert original == raw
    assert 15 <= float(score) - NOW < 25
    assert orjson.loads(new)["error_message"] == "bad"


def test_a_discarded_failure_is_an_acknowledge_only_write(processor: Processor) -> None:
    raw = payload("x.y", retry=False)
    begun = processor.begin(unit(raw))
    assert isinstance(begun, Begun)
    assert processor.conclude(unit(raw), begun, RuntimeError()).args == [raw, "", ""]


def test_error_handlers_get_the_failed_payload(app: Henchman, processor: Processor) -> None:
    seen: list[tuple[str, str]] = []
    app.error_handlers.append(lambda exc, ctx: seen.append((str(exc), ctx["job"]["jid"])))
    raw = payload("x.y")
    begun = processor.begin(unit(raw))
    assert isinstance(begun, Begun)
    processor.conclude(unit(raw), begun, RuntimeError("oops"))
    assert seen == [("oops", "e" * 24)]


def test_a_broken_error_handler_does_not_change_the_write(
    app: Henchman, processor: Processor
) -> None:
    def broken(exc: BaseException, ctx: dict[str, object]) -> None:
        raise ValueError("handler")

    app.error_handlers.append(broken)
    raw = payload("x.y")
    begun = processor.begin(unit(raw))
    assert isinstance(begun, Begun)
    assert processor.conclude(unit(raw), begun, RuntimeError()).keys == [WORKING, keys.RETRY]
