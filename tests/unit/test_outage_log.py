"""One log line per outage: what may start and end an outage in the log."""

from __future__ import annotations

import logging

import pytest
import redis

from henchman.server.outage import OutageLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" (")[0].split(" after")[0] for r in caplog.records]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outages(clock: Clock, caplog: pytest.LogCaptureFixture) -> OutageLog:
    caplog.set_level(logging.WARNING, logger="henchman")
    return OutageLog(clock)


TIMEOUT = redis.TimeoutError("Timeout reading from socket")


def test_many_failures_and_a_success_log_one_outage(
    outages: OutageLog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        outages.failed(TIMEOUT, clock())
        clock.now += 1
    outages.succeeded(clock())
    assert lines(caplog) == ["Redis unavailable", "Redis is back"]
    assert not outages.down


def test_a_call_sent_before_the_outage_was_noticed_does_not_end_it(
    outages: OutageLog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    sent_early = clock()
    clock.now += 1
    outages.failed(TIMEOUT, clock())
    clock.now += 1
    outages.succeeded(sent_early)  # its reply was on its way when Redis hung
    assert outages.down
    assert lines(caplog) == ["Redis unavailable"]


def test_a_call_sent_during_the_outage_that_times_out_after_it_ended_starts_no_new_one(
    outages: OutageLog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outages.failed(TIMEOUT, clock())
    clock.now += 1
    sent_during = clock()
    clock.now += 1
    outages.succeeded(clock())
    clock.now += 0.1
    outages.failed(TIMEOUT, sent_during)
    assert not outages.down
    assert lines(caplog) == ["Redis unavailable", "Redis is back"]


def test_a_call_sent_after_the_outage_ended_starts_a_new_one(
    outages: OutageLog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    outages.failed(TIMEOUT, clock())
    clock.now += 1
    outages.succeeded(clock())
    clock.now += 1
    outages.failed(TIMEOUT, clock())
    assert outages.down
    assert lines(caplog) == ["Redis unavailable", "Redis is back", "Redis unavailable"]
