"""Pure batch decisions: ids, callback validation and templates, bid marking, status parsing."""

from __future__ import annotations

import re

import orjson
import pytest

from henchman import keys
from henchman.batches import model
from henchman.errors import BatchError
from henchman.redis.scripts import source


def test_bids_are_fourteen_url_safe_characters_and_differ() -> None:
    bids = {model.new_bid() for _ in range(100)}
    assert len(bids) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{14}", bid) for bid in bids)


@pytest.mark.parametrize("options", [[1], "x", 3, ("a",)])
def test_callback_options_that_are_not_an_object_are_refused(options: object) -> None:
    with pytest.raises(BatchError, match="must be a JSON object"):
        model.check_options(options)


def test_callback_options_must_hold_json_values() -> None:
    with pytest.raises(BatchError, match=r"not JSON: .*args\[0\]\['at'\]"):
        model.check_options({"at": {1, 2}})


def test_no_options_means_an_empty_object() -> None:
    assert model.check_options(None) == {}


def test_unknown_event_is_refused() -> None:
    with pytest.raises(BatchError, match="use 'complete', 'success' or 'death'"):
        model.check_event("finished")


def test_mark_bid_appends_the_bid_as_the_last_key() -> None:
    raw = orjson.dumps({"class": "a", "args": [{"bid": "inner"}], "jid": "j"})
    marked = orjson.loads(model.mark_bid(raw, "Abc-_123456789"))
    assert marked["bid"] == "Abc-_123456789"
    assert marked["args"] == [{"bid": "inner"}]


def test_callback_template_has_placeholders_queue_and_parent() -> None:
    callback = model.Callback("success", "app.done", {"queue": "default", "retry": 3}, {"k": 1})
    queue, template = callback.template("critical", "parentbid12345")
    payload = orjson.loads(template)
    assert queue == "critical"
    assert payload["args"] == [model.STATUS_MARK, {"k": 1}]
    assert (payload["jid"], payload["bid"], payload["retry"]) == (
        model.JID_MARK,
        "parentbid12345",
        3,
    )
    assert "created_at" not in payload
    assert "enqueued_at" not in payload


def test_lua_placeholders_and_key_suffixes_match_python() -> None:
    lua = source("batch_ack")
    assert f"'\"{model.STATUS_MARK}\"'" in lua
    assert f"'{model.JID_MARK}'" in lua
    (line,) = [line for line in lua.splitlines() if line.startswith("local SUFFIXES")]
    suffixes = re.findall(r"'([^']*)'", line)
    assert [keys.BATCH_PREFIX + "X" + s for s in suffixes] == list(keys.batch_keys("X"))


def test_parse_reads_counts_times_and_callbacks() -> None:
    template = orjson.dumps([["default", orjson.dumps({"class": "app.done"}).decode()]])
    fields = {b"total": b"3", b"created_at": b"1700000000.5", b"cb-success": template,
              b"description": b"d", b"parent": b"p"}  # fmt: skip
    snap = model.parse("bid", fields, 2, {b"j1"}, set(), {b"k2", b"k1"})
    assert snap is not None
    assert (snap.total, snap.pending, snap.failures, snap.failed_jids) == (3, 2, 1, ["j1"])
    assert (snap.created_at, snap.parent_bid, snap.child_bids) == (1700000000.5, "p", ["k1", "k2"])
    assert snap.callbacks == {"success": ["app.done"]}


def test_parse_of_a_missing_batch_is_none() -> None:
    assert model.parse("bid", {}, 0, set(), set(), set()) is None


def test_a_cluster_child_bid_starts_with_its_roots_bid() -> None:
    from henchman.batches.model import family_bid

    assert family_bid("own", None, True) == "own"
    assert family_bid("own", "root", True) == "root.own"
    assert family_bid("own", "root.mid", True) == "root.own"
    assert family_bid("root.own", "root.mid", True) == "root.own"
    assert family_bid("own", "root", False) == "own"
