"""Worker log formats: text lines like Sidekiq's and one JSON object per line, both
carrying the job's jid and class."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import orjson

from henchman.logs import JsonFormatter, TextFormatter


def record(
    msg: str = "done: %.3f sec", args: tuple[Any, ...] = (0.5,), **extra: Any
) -> logging.LogRecord:
    rec = logging.LogRecord("henchman.job", logging.INFO, __file__, 1, msg, args, None)
    rec.created = 1700000000.25
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


JOB = {"jid": "abc123", "job_class": "app.Job", "queue": "default"}


def test_text_lines_carry_class_and_jid() -> None:
    line = TextFormatter().format(record(**JOB))
    assert "class=app.Job" in line
    assert "jid=abc123" in line


def test_text_lines_start_with_a_utc_iso_timestamp_pid_and_tid() -> None:
    line = TextFormatter().format(record(**JOB))
    assert re.match(r"2023-11-14T22:13:20\.250Z pid=\d+ tid=[0-9a-z]+ ", line)


def test_text_lines_end_with_level_and_message() -> None:
    assert TextFormatter().format(record(**JOB)).endswith(" INFO: done: 0.500 sec")


def test_text_lines_show_bid_and_tags_when_present() -> None:
    line = TextFormatter().format(record(**JOB, bid="B1", tags=["a", "b"]))
    assert "bid=B1" in line
    assert "tags=a,b" in line


def test_text_lines_without_a_job_have_no_job_fields() -> None:
    line = TextFormatter().format(record("worker started", ()))
    assert "jid=" not in line
    assert "class=" not in line


def test_text_lines_append_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record(**JOB)
        rec.exc_info = sys.exc_info()
    line = TextFormatter().format(rec)
    assert "ValueError: boom" in line


def test_json_lines_are_one_json_object_with_jid_and_class() -> None:
    line = JsonFormatter().format(record(**JOB, elapsed=0.5))
    assert "\n" not in line
    data = orjson.loads(line)
    assert data["jid"] == "abc123"
    assert data["class"] == "app.Job"
    assert data["queue"] == "default"
    assert data["elapsed"] == 0.5
    assert data["lvl"] == "INFO"
    assert data["msg"] == "done: 0.500 sec"
    assert data["ts"] == "2023-11-14T22:13:20.250Z"
    assert isinstance(data["pid"], int)


def test_json_lines_serialize_odd_extra_values_as_strings() -> None:
    data = orjson.loads(JsonFormatter().format(record(**JOB, tags={"set-tag"})))
    assert data["tags"] == str({"set-tag"})


def test_json_lines_include_the_traceback_as_error() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        rec = record(**JOB)
        rec.exc_info = sys.exc_info()
    assert "KeyError" in orjson.loads(JsonFormatter().format(rec))["error"]
