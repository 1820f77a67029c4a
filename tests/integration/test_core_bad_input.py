"""Bad input in Redis never stops a worker: each broken entry ends in the retry or
dead set with a clear reason, and the worker goes on to run a good job queued behind it."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from henchman import keys
from henchman.app import Henchman
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.integration._core_helpers import (
    Recorder,
    push_raw,
    running_worker,
    settled,
    wait_for,
    zset_jobs,
)


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no string for you")


@pytest.fixture
def good(app: Henchman) -> Recorder:
    """A job that records its argument: queued after the bad entry to prove the worker lives."""
    ran = Recorder()

    @app.job(name="core.bad_input.good")
    def good_job(n: int) -> None:
        ran.add(n)

    return ran


@pytest.fixture
def worker(app: Henchman, redis_db: RedisDB) -> Iterator[Launcher]:
    with running_worker(app, redis_db.settings(concurrency=1)) as launcher:
        yield launcher


def _then_good_job(app: Henchman, good: Recorder) -> None:
    app.enqueue("core.bad_input.good", 1)
    wait_for(lambda: good.items == [1], what="the good job after the bad entry")


def _dead_entry(redis_db: RedisDB) -> dict[str, object]:
    wait_for(lambda: redis_db.client.zcard(keys.DEAD), what="the dead record")
    [(job, _)] = zset_jobs(redis_db.client, keys.DEAD)
    return job


def _retry_entry(redis_db: RedisDB) -> dict[str, object]:
    wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the retry record")
    [(job, _)] = zset_jobs(redis_db.client, keys.RETRY)
    return job


def test_a_non_json_entry_goes_to_the_dead_set_with_its_raw_text(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    push_raw(redis_db.client, b"this is {not json")
    job = _dead_entry(redis_db)
    assert str(job["error_message"]).startswith("payload is not valid JSON")
    assert job["raw_payload"] == "this is {not json"
    assert job["queue"] == "default"
    assert isinstance(job["jid"], str)
    assert len(job["jid"]) == 24
    _then_good_job(app, good)


def test_a_non_utf8_entry_goes_to_the_dead_set_with_its_exact_bytes(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    raw = b"\xff\xfe\x00garbage"
    push_raw(redis_db.client, raw)
    job = _dead_entry(redis_db)
    assert str(job["error_message"]).startswith("payload is not valid JSON")
    assert job["raw_payload"] == raw.decode("utf-8", errors="replace")
    assert base64.b64decode(str(job["raw_payload_base64"])) == raw
    _then_good_job(app, good)


def test_a_json_array_entry_goes_to_the_dead_set(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    push_raw(redis_db.client, b"[1, 2, 3]")
    job = _dead_entry(redis_db)
    assert "not an object" in str(job["error_message"])
    assert job["raw_payload"] == "[1, 2, 3]"
    _then_good_job(app, good)


def test_json_without_class_goes_to_the_dead_set(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    raw = orjson.dumps({"args": [1], "jid": "a" * 24, "queue": "default", "retry": True})
    push_raw(redis_db.client, raw)
    job = _dead_entry(redis_db)
    assert job["error_message"] == "payload has no 'class' naming the job"
    assert job["jid"] == "a" * 24
    assert job["raw_payload"] == raw.decode()
    _then_good_job(app, good)


def test_args_that_are_not_a_list_go_to_the_dead_set(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    raw = orjson.dumps(
        {"class": "core.bad_input.good", "args": {"n": 1}, "jid": "b" * 24, "retry": True}
    )
    push_raw(redis_db.client, raw)
    job = _dead_entry(redis_db)
    assert "not a list" in str(job["error_message"])
    # The record itself stays readable by Sidekiq: args is a list, the original is kept aside.
    assert job["args"] == []
    assert job["invalid_args"] == {"n": 1}
    assert good.items == []
    _then_good_job(app, good)


def test_an_unregistered_job_name_goes_to_retry_without_importing_anything(
    app: Henchman,
    redis_db: RedisDB,
    good: Recorder,
    worker: Launcher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An importable module that leaves a mark when imported: a worker that resolved job names
    # by importing them would import it (and define the job) instead of failing.
    marker = tmp_path / "imported"
    module = "core_bad_input_tripwire"
    (tmp_path / f"{module}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Job:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    app.enqueue(f"{module}.Job", 1)
    job = _retry_entry(redis_db)
    assert job["error_message"] == f"no job registered as '{module}.Job'"
    assert job["error_class"] == "henchman.errors.UnknownJob"
    assert job["retry_count"] == 0
    assert not marker.exists()
    assert module not in sys.modules
    _then_good_job(app, good)


def test_a_job_name_naming_an_importable_module_is_not_imported(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    assert "antigravity" not in sys.modules
    app.enqueue("antigravity.fly")
    job = _retry_entry(redis_db)
    assert job["error_message"] == "no job registered as 'antigravity.fly'"
    assert "antigravity" not in sys.modules
    _then_good_job(app, good)


def test_an_exception_whose_str_raises_still_gets_a_readable_retry_record(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    @app.job(name="core.bad_input.unprintable")
    def unprintable() -> None:
        raise UnprintableError

    unprintable.perform_async()
    job = _retry_entry(redis_db)
    message = str(job["error_message"])
    assert "UnprintableError" in message
    assert "failed" in message
    assert str(job["error_class"]).endswith("UnprintableError")
    _then_good_job(app, good)


def test_a_job_raising_system_exit_is_recorded_as_a_failure(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    @app.job(name="core.bad_input.exits")
    def exits() -> None:
        sys.exit(3)

    exits.perform_async()
    job = _retry_entry(redis_db)
    assert job["error_class"] == "SystemExit"
    _then_good_job(app, good)


def test_a_job_called_with_the_wrong_arguments_goes_to_retry(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    app.enqueue("core.bad_input.good", 1, 2, 3)
    job = _retry_entry(redis_db)
    assert job["error_class"] == "TypeError"
    _then_good_job(app, good)


def test_a_bad_entry_leaves_nothing_in_the_working_list(
    app: Henchman, redis_db: RedisDB, good: Recorder, worker: Launcher
) -> None:
    push_raw(redis_db.client, b"nope")
    _dead_entry(redis_db)
    wait_for(lambda: settled(redis_db.client, worker), what="the working list to empty")
