"""The dead record of an unreadable payload: says what is wrong, keeps the original bytes in full
up to 1 MiB, and beyond that keeps the first 1 MiB and says how much was cut."""

from __future__ import annotations

import base64

import orjson
import pytest

from henchman import payload as wire
from henchman.errors import PayloadError
from henchman.server.invalid import INVALID_PAYLOAD_CLASS, RAW_PAYLOAD_LIMIT, invalid_record

NOW = 1_700_000_000.0


def _record(raw: bytes) -> dict[str, object]:
    try:
        wire.decode(raw)
    except PayloadError as exc:
        reason = str(exc)
    else:  # pragma: no cover - every case here is unreadable
        raise AssertionError("readable payload")
    return invalid_record(raw, "default", reason, now=NOW, new_jid=lambda: "n" * 24)


def test_a_small_non_utf8_payload_is_kept_exactly() -> None:
    raw = b'{"class":"A","args":["\xff"]}'
    record = _record(raw)
    assert base64.b64decode(str(record["raw_payload_base64"])) == raw
    assert record["raw_payload_size"] == len(raw)
    assert "raw_payload_cut" not in record
    assert record["error_message"] == (
        f"payload is not valid JSON: invalid UTF-8 byte 0xff at offset 22 (of {len(raw)} bytes)"
    )


def test_a_5mb_non_utf8_entry_keeps_its_first_mib_and_says_how_much_was_cut() -> None:
    raw = b"\xff" * 5_000_000
    record = _record(raw)
    encoded = orjson.dumps(record)
    assert len(encoded) < 6 * RAW_PAYLOAD_LIMIT  # was 22.7 MB: full text with U+FFFD + base64
    assert base64.b64decode(str(record["raw_payload_base64"])) == raw[:RAW_PAYLOAD_LIMIT]
    assert record["raw_payload_size"] == 5_000_000
    assert record["raw_payload_cut"] == 5_000_000 - RAW_PAYLOAD_LIMIT
    assert "5,000,000 bytes" in str(record["error_message"])
    assert "first 1,048,576" in str(record["error_message"])


def test_a_large_utf8_entry_is_cut_on_a_character_boundary_without_base64() -> None:
    raw = b"{" + "é".encode() * 3_000_000  # 6 MB of text, not JSON
    record = _record(raw)
    text = str(record["raw_payload"])
    assert raw.startswith(text.encode())
    assert len(text.encode()) in (RAW_PAYLOAD_LIMIT, RAW_PAYLOAD_LIMIT - 1)
    assert "\ufffd" not in text
    assert "raw_payload_base64" not in record
    assert record["raw_payload_cut"] == len(raw) - len(text.encode())


def test_a_large_object_keeps_only_its_short_identifying_fields() -> None:
    raw = orjson.dumps({"class": "Big", "jid": "j" * 24, "args": "x" * 3_000_000, "other": 1})
    record = _record(raw)
    assert record["class"] == "Big"
    assert record["jid"] == "j" * 24
    assert record["args"] == []
    assert "invalid_args" not in record
    assert "other" not in record
    assert len(orjson.dumps(record)) < 2 * RAW_PAYLOAD_LIMIT


def test_a_small_object_keeps_its_fields_and_bad_args() -> None:
    record = _record(b'{"class":"A","jid":"abc","args":{"a":1},"tag":"x"}')
    assert record["invalid_args"] == {"a": 1}
    assert record["args"] == []
    assert record["tag"] == "x"
    assert record["raw_payload_size"] == 50


@pytest.mark.parametrize("value", ["123", "null", '""', '["A"]'])
def test_a_class_that_is_not_a_name_is_replaced_and_explained(value: str) -> None:
    raw = f'{{"class":{value},"args":[]}}'.encode()
    record = _record(raw)
    assert record["class"] == INVALID_PAYLOAD_CLASS
    assert "payload 'class' is" in str(record["error_message"])
    assert record["raw_payload"] == raw.decode()
    assert record["jid"] == "n" * 24
