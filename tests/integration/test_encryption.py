"""Encrypted arguments end to end on a real server and an in-process worker."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.crypto import Keyring, is_sealed
from henchman.errors import ConfigError
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, wait_for, zset_jobs

K1, K2, K3 = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))
SECRET = {"ssn": "123-45-6789"}


def _define(app: Henchman, seen: Recorder, fail: bool = False) -> Any:
    @app.job(encrypt=True, retry=3)
    def private(user: int, bag: dict[str, str]) -> None:
        payload = henchman.current_job().payload  # type: ignore[union-attr]
        seen.add((user, bag, is_sealed(payload["args"][-1])))
        if fail:
            raise RuntimeError(f"card rejected for {bag['ssn']}")

    return private


def _raw_queue(redis_db: RedisDB) -> list[bytes]:
    return list(redis_db.client.lrange(keys.queue("default"), 0, -1))


def test_redis_never_holds_the_secret_and_the_job_receives_it(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.use_keyring(Keyring(1, {1: K1}))
    seen = Recorder()
    private = _define(app, seen)
    private.perform_async(7, SECRET)
    (raw,) = _raw_queue(redis_db)
    assert b"123-45-6789" not in raw
    payload = orjson.loads(raw)
    assert payload["encrypt"] is True
    assert payload["args"][0] == 7
    assert payload["args"][1].startswith("henchman:enc:v1:")
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: len(seen), what="the job to run")
    assert seen.items == [(7, SECRET, True)]  # decrypted for the job, still sealed in the payload


def test_rotation_old_jobs_still_run_after_a_new_key_is_active(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.use_keyring(Keyring(1, {1: K1}))
    seen = Recorder()
    private = _define(app, seen)
    private.perform_async(1, SECRET)
    app.use_keyring(Keyring(2, {1: K1, 2: K2}))
    private.perform_async(2, SECRET)
    versions = sorted(orjson.loads(r)["args"][1][:16] for r in _raw_queue(redis_db))
    assert versions == ["henchman:enc:v1:", "henchman:enc:v2:"]
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: len(seen) == 2, what="both jobs")
    assert sorted(seen.items) == [(1, SECRET, True), (2, SECRET, True)]


def test_a_missing_key_version_sends_the_job_to_retry_with_a_clear_message(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.use_keyring(Keyring(3, {3: K3}))
    seen = Recorder()
    _define(app, seen).perform_async(1, SECRET)
    app.use_keyring(Keyring(2, {1: K1, 2: K2}))
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="a retry record")
    ((job, _),) = zset_jobs(redis_db.client, keys.RETRY)
    assert job["error_message"] == "encryption key version 3 is not configured"
    assert job["error_class"] == "henchman.crypto.DecryptionError"
    assert seen.items == []


def test_a_tampered_value_sends_the_job_to_retry_with_a_clear_message(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.use_keyring(Keyring(1, {1: K1}))
    seen = Recorder()
    _define(app, seen).perform_async(1, SECRET)
    (raw,) = _raw_queue(redis_db)
    payload = orjson.loads(raw)
    token = payload["args"][1]
    payload["args"][1] = token[:-6] + ("AAAA==" if not token.endswith("AAAA==") else "BBBB==")
    redis_db.client.delete(keys.queue("default"))
    redis_db.client.lpush(keys.queue("default"), orjson.dumps(payload))
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="a retry record")
    ((job, _),) = zset_jobs(redis_db.client, keys.RETRY)
    assert "cannot decrypt the last argument with key version 1" in job["error_message"]
    assert seen.items == []


def test_a_failed_encrypted_job_retries_sealed_and_still_decrypts(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.use_keyring(Keyring(1, {1: K1}))
    seen = Recorder()
    _define(app, seen, fail=True).perform_async(1, SECRET)
    sealed = orjson.loads(_raw_queue(redis_db)[0])["args"][1]
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="a retry record")
        (raw,) = redis_db.client.zrange(keys.RETRY, 0, -1)
        assert b"123-45-6789" not in raw  # neither in args nor in the error message
        job = orjson.loads(raw)
        assert job["args"][1] == sealed  # moved as is, never sealed twice
        assert job["error_message"] == "card rejected for [encrypted]"
        redis_db.client.zadd(keys.RETRY, {raw: 0})  # due now: the poller moves it back
        wait_for(lambda: len(seen) == 2, what="the retry to run")
    assert seen.items == [(1, SECRET, True), (1, SECRET, True)]


def test_worker_start_refuses_bad_keys_with_one_line(app: Henchman, redis_db: RedisDB) -> None:
    settings = redis_db.settings(encryption_keys="1:c2hvcnQ=")
    app.configure(settings)
    with pytest.raises(ConfigError) as caught:
        Launcher(app, settings).start()
    assert str(caught.value) == (
        "setting 'encryption_keys': encryption key version 1 must be 32 bytes (AES-256), got 5"
    )


def test_an_async_job_receives_its_secret_and_logs_never_show_it(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    app.use_keyring(Keyring(1, {1: K1}))
    seen = Recorder()

    @app.job(encrypt=True, retry=1)
    async def private_async(user: int, bag: dict[str, str]) -> None:
        seen.add(bag)
        raise ValueError(f"no account for {bag['ssn']}")

    private_async.perform_async(1, SECRET)
    with (
        caplog.at_level(logging.DEBUG, logger="henchman"),
        running_worker(app, redis_db.settings()),
    ):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="a retry record")
    assert seen.items == [SECRET]
    assert "no account for [encrypted]" in caplog.text
    assert "123-45-6789" not in caplog.text
