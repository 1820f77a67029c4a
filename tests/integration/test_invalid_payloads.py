"""Unreadable payloads through a real worker: the log and the dead record say what is wrong
(never an empty message or ``job None (None)``), and the worker goes on."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import orjson
import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.server.invalid import RAW_PAYLOAD_LIMIT
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.integration._core_helpers import push_raw, running_worker, wait_for, zset_jobs


@pytest.fixture
def worker(app: Henchman, redis_db: RedisDB) -> Iterator[Launcher]:
    with running_worker(app, redis_db.settings(concurrency=1)) as launcher:
        yield launcher


def _dead(redis_db: RedisDB) -> dict[str, object]:
    wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
    [(job, _)] = zset_jobs(redis_db.client, keys.DEAD)
    return job


def test_the_failure_log_names_the_job_and_the_reason(
    redis_db: RedisDB, worker: Launcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="henchman")
    push_raw(redis_db.client, b'{"class":123,"args":[],"jid":"0123456789abcdef01234567"}')
    job = _dead(redis_db)
    assert job["error_message"] == "payload 'class' is 123, not a job name (a string)"
    failed = [r.getMessage() for r in caplog.records if " failed: " in r.getMessage()]
    assert failed == [
        "job 0123456789abcdef01234567 (henchman.InvalidPayload) failed: PayloadError: "
        "payload 'class' is 123, not a job name (a string)"
    ]


def test_invalid_utf8_is_reported_where_the_bad_byte_is(
    redis_db: RedisDB, worker: Launcher
) -> None:
    raw = b'{"class":"A","args":["' + b"x" * 5000 + b'\xc3("]}'
    push_raw(redis_db.client, raw)
    job = _dead(redis_db)
    assert job["error_message"] == (
        f"payload is not valid JSON: invalid UTF-8 byte 0xc3 at offset 5022 (of {len(raw):,} "
        "bytes)"
    )
    assert base64.b64decode(str(job["raw_payload_base64"])) == raw


def test_a_5mb_garbage_entry_makes_a_bounded_dead_record(
    redis_db: RedisDB, worker: Launcher
) -> None:
    raw = bytes(range(128, 256)) * (5_000_000 // 128)
    push_raw(redis_db.client, raw)
    wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
    [stored] = redis_db.client.zrange(keys.DEAD, 0, -1)
    assert len(stored) < 6 * RAW_PAYLOAD_LIMIT  # was 22.7 MB
    job = orjson.loads(stored)
    assert base64.b64decode(job["raw_payload_base64"]) == raw[:RAW_PAYLOAD_LIMIT]
    assert job["raw_payload_size"] == len(raw)
    assert job["raw_payload_cut"] == len(raw) - RAW_PAYLOAD_LIMIT
