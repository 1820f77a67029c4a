"""The heartbeat's pure parts: the ``info`` JSON Sidekiq's Busy page reads, the
running-work entries, daily stat keys and the in-memory counters."""

from __future__ import annotations

import os
import socket
from typing import Any

import orjson
import pytest

from henchman.server.heartbeat import Heartbeat, day_of, info, new_identity, work_entries
from henchman.server.stats import Counters

IDENTITY = "web-1.example:4242:0a1b2c3d4e5f"


def make_info(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "started_at": 1700000000.5,
        "tag": "app",
        "concurrency": 10,
        "queues": ["a", "b"],
        "weights": [{"a": 2}, {"b": 1}],
        "labels": ["blue"],
        "version": "0.1.0",
    }
    kwargs.update(overrides)
    return dict(orjson.loads(info(IDENTITY, **kwargs)))


def test_info_is_json_with_every_field_sidekiq_reads() -> None:
    data = make_info()
    assert {
        "hostname",
        "started_at",
        "pid",
        "tag",
        "concurrency",
        "queues",
        "labels",
        "identity",
        "version",
    } <= data.keys()


def test_info_splits_the_identity_into_hostname_and_pid() -> None:
    data = make_info()
    assert data["hostname"] == "web-1.example"
    assert data["pid"] == 4242
    assert data["identity"] == IDENTITY


def test_info_carries_the_configuration() -> None:
    data = make_info()
    assert data["concurrency"] == 10
    assert data["queues"] == ["a", "b"]
    assert data["weights"] == [{"a": 2}, {"b": 1}]
    assert data["labels"] == ["blue"]
    assert data["version"] == "0.1.0"
    assert data["started_at"] == 1700000000.5


def test_info_writes_an_empty_tag_rather_than_null() -> None:
    assert make_info(tag=None)["tag"] == ""


def test_info_handles_a_hostname_with_colons() -> None:
    data = dict(
        orjson.loads(
            info(
                "fe80::1:99:nonce",
                started_at=1.0,
                tag=None,
                concurrency=1,
                queues=[],
                weights=[],
                labels=[],
                version="x",
            )
        )
    )
    assert data["hostname"] == "fe80::1"
    assert data["pid"] == 99


def test_new_identity_is_hostname_pid_nonce() -> None:
    assert new_identity("n0nce") == f"{socket.gethostname()}:{os.getpid()}:n0nce"


def test_work_entries_hold_queue_payload_and_integer_run_at() -> None:
    payload = {"class": "a.B", "jid": "j"}
    entries = work_entries({12345: ("q", payload, 1700000000.9)})
    [(key, raw)] = entries.items()
    assert key == "9ix"
    assert orjson.loads(raw) == {"queue": "q", "payload": payload, "run_at": 1700000000}


def test_work_entries_of_no_work_are_empty() -> None:
    assert work_entries({}) == {}


@pytest.mark.parametrize(
    ("epoch", "day"),
    [
        (0.0, "1970-01-01"),
        (1700000000.0, "2023-11-14"),
        (1700006399.9, "2023-11-14"),
        (1700006400.0, "2023-11-15"),
    ],
)
def test_day_of_is_the_utc_date(epoch: float, day: str) -> None:
    assert day_of(epoch) == day


def test_counters_count_failures_as_processed_too() -> None:
    counters = Counters()
    counters.processed_one()
    counters.failed_one()
    assert counters.take() == (2, 1)


def test_counters_reset_when_taken() -> None:
    counters = Counters()
    counters.processed_one()
    counters.take()
    assert counters.take() == (0, 0)


def test_counters_given_back_go_out_with_the_next_take() -> None:
    counters = Counters()
    counters.give_back(3, 1)
    counters.processed_one()
    assert counters.take() == (4, 1)


class FailingPipeline:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def execute(self) -> None:
        raise ConnectionError("redis went away")


class FailingRedis:
    def ping(self) -> bool:
        return True

    def time(self) -> tuple[int, int]:  # the beat reads the server's clock (skew check)
        return (0, 0)

    def pipeline(self, transaction: bool = True) -> FailingPipeline:
        return FailingPipeline()


def test_a_failed_beat_keeps_the_counts_for_the_next_one() -> None:
    counters = Counters()
    counters.processed_one()
    counters.failed_one()
    beat = Heartbeat(
        FailingRedis(),
        IDENTITY,
        b"{}",
        counters,
        ttl=60,  # type: ignore[arg-type]
        concurrency=1,
        clock=lambda: 1700000000.0,
    )
    with pytest.raises(ConnectionError):
        beat.beat(busy=0, quiet=False, work={})
    assert counters.take() == (2, 1)
