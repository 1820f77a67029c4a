"""The reliable-push buffer's decisions, with a scripted writer instead of Redis."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis

from henchman.client.buffer import PushBuffer, outcome_unknown
from henchman.client.plan import PushPlan


class ScriptedWriter:
    """Raises the queued errors in turn, then stores; records every call."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[list[str], bool]] = []
        self.stored: list[str] = []

    def __call__(self, plans: Sequence[PushPlan], *, once: bool = False) -> None:
        self.calls.append(([p.jid for p in plans], once))
        if self.errors:
            raise self.errors.pop(0)
        self.stored += [p.jid for p in plans]


def plan(jid: str) -> PushPlan:
    return PushPlan(jid, "default", b"{}")


@pytest.fixture
def buffer() -> PushBuffer:
    # A long retry interval keeps the background thread out of the way of these checks.
    return PushBuffer(10, retry_interval=3600, max_backoff=3600)


def test_a_push_during_a_known_outage_does_not_try_redis(buffer: PushBuffer) -> None:
    writer = ScriptedWriter(redis.TimeoutError("Timeout reading from socket"))
    buffer.write([plan("a")], writer)
    buffer.write([plan("b")], writer)
    assert writer.calls == [(["a"], False)]
    assert len(buffer) == 2


def test_a_timed_out_push_is_redelivered_once_only_and_later_ones_plainly(
    buffer: PushBuffer,
) -> None:
    writer = ScriptedWriter(redis.TimeoutError("Timeout reading from socket"))
    buffer.write([plan("a")], writer)
    buffer.write([plan("b")], writer)
    assert buffer.flush()
    assert writer.calls[1:] == [(["a"], True), (["b"], False)]
    assert writer.stored == ["a", "b"]


def test_a_refused_push_is_redelivered_plainly(buffer: PushBuffer) -> None:
    refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    writer = ScriptedWriter(refused)
    buffer.write([plan("a")], writer)
    assert buffer.flush()
    assert writer.calls[1:] == [(["a"], False)]


def test_a_failed_plain_delivery_that_may_have_landed_becomes_uncertain(
    buffer: PushBuffer,
) -> None:
    refused = redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    lost = redis.ConnectionError("Connection closed by server.")
    writer = ScriptedWriter(refused, lost)
    buffer.write([plan("a")], writer)
    assert not buffer.flush()
    assert buffer.flush()
    assert writer.calls[1:] == [(["a"], False), (["a"], True)]


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (redis.TimeoutError("Timeout reading from socket"), True),
        (redis.ConnectionError("Error while reading from socket: Connection reset"), True),
        (redis.ConnectionError("Error 111 connecting to localhost:6379."), False),
        (redis.TimeoutError("Timeout connecting to server"), False),
        (redis.ReadOnlyError("You can't write against a read only replica."), False),
    ],
)
def test_which_failures_leave_a_pushs_outcome_unknown(error: Exception, unknown: bool) -> None:
    assert outcome_unknown(error) is unknown
