"""The wire format: argument checks naming the bad value's path, payload fields as
Sidekiq writes them, decode errors, and timestamp reading."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from henchman import payload as wire
from henchman.errors import PayloadError

NOW = 1700000000.25
OPTIONS = {"queue": "default", "retry": True}


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


# --- check_args ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["s", 1, 1.5, True, False, None],
        [[1, [2, [3]]], {"a": {"b": [None]}}],
        [2**63 - 1, -(2**63), 2**64 - 1],
        [""],
        [{"": 0}],
    ],
)
def test_check_args_accepts_json_native_values(args: list[Any]) -> None:
    wire.check_args(args)


def test_check_args_accepts_a_tuple_of_args_at_the_top_level() -> None:
    wire.check_args((1, "two"))


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ([datetime(2024, 1, 1)], "args[0]"),
        ([1, Decimal("2.5")], "args[1]"),
        ([{1, 2}], "args[0]"),
        ([frozenset()], "args[0]"),
        ([b"bytes"], "args[0]"),
        ([uuid.UUID(int=1)], "args[0]"),
        ([date(2024, 1, 1)], "args[0]"),
        ([[1, [2, object()]]], "args[0][1][1]"),
    ],
    ids=["datetime", "decimal", "set", "frozenset", "bytes", "uuid", "date", "nested"],
)
def test_check_args_rejects_a_non_json_value_naming_its_path(args: list[Any], path: str) -> None:
    with pytest.raises(TypeError) as caught:
        wire.check_args(args)
    assert str(caught.value).startswith(f"{path} = ")


def test_check_args_names_a_dict_key_in_the_path() -> None:
    with pytest.raises(TypeError, match=re.escape("args[1]['when'] = datetime.datetime(2024")):
        wire.check_args([1, {"when": datetime(2024, 1, 1, tzinfo=UTC)}])


def test_check_args_names_the_type_of_the_bad_value() -> None:
    with pytest.raises(TypeError, match="is a Decimal, not JSON-native"):
        wire.check_args([Decimal(1)])


def test_tuples_are_accepted_as_json_arrays_at_any_depth() -> None:
    wire.check_args([(1, 2), [(3, (4,))], {"pair": ("a", "b")}])
    built = wire.build("j", [(1, 2), {"pair": ("a", "b")}], {"queue": "q", "retry": True}, now=1.0)
    assert wire.decode(wire.encode(built))["args"] == [[1, 2], {"pair": ["a", "b"]}]


def test_a_tuple_subclass_is_still_refused() -> None:
    from collections import namedtuple

    point = namedtuple("point", "x y")
    with pytest.raises(TypeError, match=re.escape("args[0] = point(x=1, y=2) is a point")):
        wire.check_args([point(1, 2)])


def test_a_bad_value_inside_a_tuple_is_named_by_its_path() -> None:
    with pytest.raises(TypeError, match=re.escape("args[0][1] = ")):
        wire.check_args([(1, object())])


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_args_rejects_non_finite_floats(value: float) -> None:
    with pytest.raises(TypeError, match=re.escape("args[0] = ") + ".*not a finite number"):
        wire.check_args([value])


def test_check_args_rejects_nan_nested_in_a_dict() -> None:
    with pytest.raises(TypeError, match=re.escape("args[0]['x']")):
        wire.check_args([{"x": math.nan}])


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_check_args_rejects_integers_outside_64_bits(value: int) -> None:
    with pytest.raises(TypeError, match="outside the 64-bit range"):
        wire.check_args([value])


@pytest.mark.parametrize("key", [1, None, 1.5, ("t",), True])
def test_check_args_rejects_non_string_dict_keys(key: Any) -> None:
    with pytest.raises(TypeError, match=re.escape(f"args[0] has a non-string key {key!r}")):
        wire.check_args([{key: 1}])


def test_check_args_survives_a_value_whose_repr_raises() -> None:
    with pytest.raises(TypeError, match="BrokenRepr with a failing __repr__"):
        wire.check_args([BrokenRepr()])


def test_check_args_shortens_a_long_repr() -> None:
    with pytest.raises(TypeError) as caught:
        wire.check_args([Decimal("1" * 500)])
    assert "..." in str(caught.value)
    assert len(str(caught.value)) < 300


def test_check_args_rejects_subclasses_of_json_types() -> None:
    class Name(str):
        pass

    with pytest.raises(TypeError, match=re.escape("args[0] = ")):
        wire.check_args([Name("x")])


def test_check_args_rejects_a_self_referencing_list_with_type_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError):
        wire.check_args([loop])


# --- build ---------------------------------------------------------------------------------


def test_build_always_writes_class_args_and_retry() -> None:
    payload = wire.build("app.Job", [1], {"queue": "q", "retry": False}, now=NOW)
    assert payload["class"] == "app.Job"
    assert payload["args"] == [1]
    assert payload["retry"] is False


def test_build_puts_class_and_args_first() -> None:
    payload = wire.build("app.Job", [1], OPTIONS, now=NOW)
    assert list(payload)[:2] == ["class", "args"]


def test_build_writes_every_core_key_for_an_immediate_job() -> None:
    payload = wire.build("app.Job", [], OPTIONS, now=NOW)
    assert set(wire.CORE_KEYS) <= payload.keys()


def test_build_makes_a_24_hex_character_jid() -> None:
    payload = wire.build("app.Job", [], OPTIONS, now=NOW)
    assert re.fullmatch(r"[0-9a-f]{24}", payload["jid"])


def test_build_makes_a_new_jid_each_time() -> None:
    jids = {wire.build("app.Job", [], OPTIONS, now=NOW)["jid"] for _ in range(100)}
    assert len(jids) == 100


def test_build_uses_a_given_jid() -> None:
    assert wire.build("app.Job", [], OPTIONS, now=NOW, jid="c" * 24)["jid"] == "c" * 24


def test_build_stamps_created_at_and_enqueued_at_with_now() -> None:
    payload = wire.build("app.Job", [], OPTIONS, now=NOW)
    assert payload["created_at"] == NOW
    assert payload["enqueued_at"] == NOW


def test_build_timestamps_have_a_decimal_point_in_the_json() -> None:
    raw = wire.encode(wire.build("app.Job", [], OPTIONS, now=1700000000.0)).decode()
    assert '"created_at":1700000000.0' in raw
    assert '"enqueued_at":1700000000.0' in raw


def test_build_writes_float_timestamps_even_from_an_integer_clock() -> None:
    raw = wire.encode(wire.build("app.Job", [], OPTIONS, now=1700000000)).decode()
    assert '"created_at":1700000000.0' in raw


def test_build_of_a_scheduled_job_has_no_enqueued_at() -> None:
    payload = wire.build("app.Job", [], OPTIONS, now=NOW, scheduled=True)
    assert "enqueued_at" not in payload
    assert payload["created_at"] == NOW


def test_build_of_a_scheduled_job_drops_an_enqueued_at_option() -> None:
    payload = wire.build("app.Job", [], {**OPTIONS, "enqueued_at": 5.0}, now=NOW, scheduled=True)
    assert "enqueued_at" not in payload


def test_build_keeps_a_given_created_at() -> None:
    payload = wire.build("app.Job", [], {**OPTIONS, "created_at": 12.5}, now=NOW)
    assert payload["created_at"] == 12.5


def test_build_keeps_unknown_options() -> None:
    payload = wire.build("app.Job", [], {**OPTIONS, "custom": {"x": 1}}, now=NOW)
    assert payload["custom"] == {"x": 1}


def test_build_copies_args_into_a_list() -> None:
    assert wire.build("app.Job", (1, 2), OPTIONS, now=NOW)["args"] == [1, 2]


def test_encode_then_decode_round_trips() -> None:
    payload = wire.build("app.Job", [1, {"a": [None]}], OPTIONS, now=NOW)
    assert wire.decode(wire.encode(payload)) == payload


# --- decode --------------------------------------------------------------------------------


def test_decode_accepts_str_and_bytes() -> None:
    raw = '{"class":"a.B","args":[]}'
    assert wire.decode(raw) == wire.decode(raw.encode()) == {"class": "a.B", "args": []}


@pytest.mark.parametrize("raw", [b"not json", b"", b'{"class": "a"', b"\xff\xfe"])
def test_decode_rejects_text_that_is_not_json(raw: bytes) -> None:
    with pytest.raises(PayloadError, match=r"^payload is not valid JSON: "):
        wire.decode(raw)


@pytest.mark.parametrize(
    ("raw", "kind"), [(b"[1]", "list"), (b'"s"', "str"), (b"3", "int"), (b"null", "NoneType")]
)
def test_decode_rejects_json_that_is_not_an_object(raw: bytes, kind: str) -> None:
    with pytest.raises(PayloadError, match=f"payload is a JSON {kind}, not an object"):
        wire.decode(raw)


def test_decode_rejects_a_payload_without_a_class() -> None:
    with pytest.raises(PayloadError, match="payload has no 'class' naming the job"):
        wire.decode(b'{"args":[]}')


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"class":123,"args":[]}', "payload 'class' is 123, not a job name (a string)"),
        (b'{"class":["A"],"args":[]}', "payload 'class' is ['A'], not a job name (a string)"),
        (b'{"class":"","args":[]}', "payload 'class' is an empty string, not a job name"),
    ],
)
def test_decode_says_what_is_wrong_with_the_class(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        wire.decode(raw)
    assert str(caught.value) == message


def test_decode_points_at_the_invalid_utf8_byte() -> None:
    raw = b'{"class":"A","args":["' + b"x" * 1234 + b'\xff"]}'
    with pytest.raises(PayloadError) as caught:
        wire.decode(raw)
    assert str(caught.value) == (
        f"payload is not valid JSON: invalid UTF-8 byte 0xff at offset 1256 (of {len(raw):,} bytes)"
    )


@pytest.mark.parametrize(
    ("raw", "says"), [(b"", "the payload is empty"), (b" \n", "only whitespace")]
)
def test_decode_says_when_there_is_nothing_to_parse(raw: bytes, says: str) -> None:
    with pytest.raises(PayloadError, match=f"^payload is not valid JSON: {says}$"):
        wire.decode(raw)


@pytest.mark.parametrize(
    "raw", [b'{"class":"a.B"}', b'{"class":"a.B","args":{}}', b'{"class":"a.B","args":"x"}']
)
def test_decode_rejects_args_that_are_not_a_list(raw: bytes) -> None:
    with pytest.raises(PayloadError, match=r"payload 'args' is .*, not a list"):
        wire.decode(raw)


def test_decode_loose_accepts_an_object_without_job_fields() -> None:
    assert wire.decode_loose(b'{"x":1}') == {"x": 1}


def test_decode_loose_rejects_an_array() -> None:
    with pytest.raises(PayloadError):
        wire.decode_loose(b"[]")


def test_raw_text_replaces_undecodable_bytes() -> None:
    assert wire.raw_text(b"ok\xff") == "ok\ufffd"


# --- epoch_seconds ---------------------------------------------------------------------------


def test_epoch_seconds_reads_float_seconds_as_is() -> None:
    assert wire.epoch_seconds(1700000000.5) == 1700000000.5


def test_epoch_seconds_reads_integer_seconds() -> None:
    value = wire.epoch_seconds(1700000000)
    assert value == 1700000000.0
    assert isinstance(value, float)


def test_epoch_seconds_reads_sidekiq_8_integer_milliseconds() -> None:
    assert wire.epoch_seconds(1700000000123) == 1700000000.123


def test_epoch_seconds_reads_a_float_even_in_the_millisecond_range_as_seconds() -> None:
    assert wire.epoch_seconds(1700000000123.0) == 1700000000123.0


@pytest.mark.parametrize("value", [None, "1700000000", True, [1]])
def test_epoch_seconds_of_a_non_number_is_none(value: Any) -> None:
    assert wire.epoch_seconds(value) is None


def test_payload_json_is_valid_for_other_readers() -> None:
    raw = wire.encode(wire.build("a.B", ["é", {"k": 2**64 - 1}], OPTIONS, now=NOW))
    assert orjson.loads(raw)["args"] == ["é", {"k": 2**64 - 1}]
