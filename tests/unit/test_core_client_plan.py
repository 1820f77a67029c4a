"""Push planning: when a job runs, client middleware, bulk validation and the Redis
commands a push turns into. Pure: no Redis, a fixed clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from henchman import keys
from henchman.client.plan import PushPlan, due_time, group_by_target, plan_bulk, plan_push
from henchman.client.writes import queue_writes

NOW = 1700000000.5
OPTIONS = {"queue": "default", "retry": True}


class RecordingPipe:
    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def sadd(self, name: str, *values: Any) -> None:
        self.commands.append(("sadd", name, *values))

    def lpush(self, name: str, *values: Any) -> None:
        self.commands.append(("lpush", name, *values))

    def zadd(self, name: str, mapping: Any) -> None:
        self.commands.append(("zadd", name, dict(mapping)))


# --- due_time --------------------------------------------------------------------------------


def test_no_delay_and_no_time_means_now() -> None:
    assert due_time(NOW, None, None) is None


def test_a_future_delay_is_now_plus_delay() -> None:
    assert due_time(NOW, 30, None) == NOW + 30


@pytest.mark.parametrize("delay", [0, -1, -1000.5])
def test_a_delay_of_zero_or_less_means_now(delay: float) -> None:
    assert due_time(NOW, delay, None) is None


def test_a_future_time_is_kept() -> None:
    assert due_time(NOW, None, NOW + 5) == NOW + 5


@pytest.mark.parametrize("at", [NOW, NOW - 0.001, 0.0])
def test_a_time_at_or_before_now_means_now(at: float) -> None:
    assert due_time(NOW, None, at) is None


# --- plan_push -------------------------------------------------------------------------------


def test_plan_push_of_an_immediate_job_targets_its_queue() -> None:
    plan = plan_push("a.B", [1], {"queue": "q", "retry": True}, [], now=NOW)
    assert plan is not None
    assert plan.queue == "q"
    assert plan.at is None
    payload = orjson.loads(plan.raw)
    assert payload["jid"] == plan.jid
    assert payload["enqueued_at"] == NOW


def test_plan_push_of_a_delayed_job_is_scheduled_without_enqueued_at() -> None:
    plan = plan_push("a.B", [], OPTIONS, [], now=NOW, delay=10)
    assert plan is not None
    assert plan.at == NOW + 10
    assert "enqueued_at" not in orjson.loads(plan.raw)


def test_plan_push_at_a_past_time_is_immediate() -> None:
    plan = plan_push("a.B", [], OPTIONS, [], now=NOW, at=NOW - 60)
    assert plan is not None
    assert plan.at is None
    assert orjson.loads(plan.raw)["enqueued_at"] == NOW


def test_plan_push_rejects_bad_args_before_calling_middleware() -> None:
    calls: list[str] = []

    def spy(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        calls.append(name)
        return payload

    with pytest.raises(TypeError, match=r"args\[0\]"):
        plan_push("a.B", [Decimal(1)], OPTIONS, [spy], now=NOW)
    assert calls == []


def test_a_middleware_returning_none_drops_the_push() -> None:
    assert plan_push("a.B", [], OPTIONS, [lambda n, p, q: None], now=NOW) is None


def test_a_dropping_middleware_stops_the_chain() -> None:
    later: list[str] = []
    chain = [lambda n, p, q: None, lambda n, p, q: later.append(n) or p]
    plan_push("a.B", [], OPTIONS, chain, now=NOW)
    assert later == []


def test_a_middleware_can_add_fields() -> None:
    plan = plan_push("a.B", [], OPTIONS, [lambda n, p, q: {**p, "trace": "t1"}], now=NOW)
    assert plan is not None
    assert orjson.loads(plan.raw)["trace"] == "t1"


def test_a_middleware_can_change_the_queue() -> None:
    plan = plan_push("a.B", [], OPTIONS, [lambda n, p, q: {**p, "queue": "moved"}], now=NOW)
    assert plan is not None
    assert plan.queue == "moved"


def test_middleware_runs_in_order_with_name_payload_and_queue() -> None:
    seen: list[tuple[str, str, str]] = []

    def first(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        seen.append(("first", name, queue))
        return {**payload, "queue": "second-sees-this"}

    def second(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
        seen.append(("second", name, queue))
        return payload

    plan_push("a.B", [], {"queue": "q", "retry": True}, [first, second], now=NOW)
    assert seen == [("first", "a.B", "q"), ("second", "a.B", "second-sees-this")]


def test_plan_push_uses_a_preallocated_jid() -> None:
    plan = plan_push("a.B", [], OPTIONS, [], now=NOW, jid="d" * 24)
    assert plan is not None
    assert plan.jid == "d" * 24


# --- plan_bulk -------------------------------------------------------------------------------


def test_plan_bulk_plans_one_push_per_arg_list() -> None:
    plans = plan_bulk("a.B", [[1], [2], (3,)], OPTIONS, [], now=NOW)
    assert [orjson.loads(p.raw)["args"] for p in plans] == [[1], [2], [3]]
    assert len({p.jid for p in plans}) == 3


def test_plan_bulk_rejects_an_item_that_is_not_a_list() -> None:
    with pytest.raises(TypeError, match="perform_bulk item 1 is int, not a list of args"):
        plan_bulk("a.B", [[1], 2], OPTIONS, [], now=NOW)  # type: ignore[list-item]


def test_plan_bulk_names_the_bad_item_and_path() -> None:
    with pytest.raises(TypeError, match=r"perform_bulk item 2: args\[0\]\['x'\]"):
        plan_bulk("a.B", [[1], [2], [{"x": {1}}], [4]], OPTIONS, [], now=NOW)


def test_plan_bulk_raises_rather_than_returning_a_partial_plan() -> None:
    result: list[PushPlan] | None = None
    with pytest.raises(TypeError):
        result = plan_bulk("a.B", [[1], [Decimal(2)]], OPTIONS, [], now=NOW)
    assert result is None


def test_plan_bulk_leaves_out_pushes_a_middleware_dropped() -> None:
    def drop_odd(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any] | None:
        return None if payload["args"][0] % 2 else payload

    plans = plan_bulk("a.B", [[1], [2], [3], [4]], OPTIONS, [drop_odd], now=NOW)
    assert [orjson.loads(p.raw)["args"] for p in plans] == [[2], [4]]


def test_plan_bulk_with_a_future_time_schedules_every_job() -> None:
    plans = plan_bulk("a.B", [[1], [2]], OPTIONS, [], now=NOW, at=NOW + 9)
    assert [p.at for p in plans] == [NOW + 9, NOW + 9]


BULK_OPTIONS = [
    OPTIONS,
    {"queue": "critical", "retry": 3, "tags": ["a", "é"], "meta": {"n": [1, 2.5, None]}},
    {"retry": False, "queue": "default", "created_at": 1600000000.0, "backtrace": 5},
    {"queue": "default", "retry": True, "enqueued_at": 1.0},
]


@pytest.mark.parametrize("options", BULK_OPTIONS)
@pytest.mark.parametrize("at", [None, NOW + 60])
def test_plan_bulk_encodes_exactly_what_plan_push_encodes(
    options: dict[str, Any], at: float | None
) -> None:
    args_list: list[Any] = [[1], ["x", {"k": [True, None]}], [], (2.5, "ü")]
    plans = plan_bulk("a.B", args_list, options, [], now=NOW, at=at)
    for plan, args in zip(plans, args_list, strict=True):
        one = plan_push("a.B", args, options, [], now=NOW, at=at, jid=plan.jid)
        assert one == plan  # same jid, queue, bytes and time


def test_plan_bulk_falls_back_when_options_set_what_the_template_fills_in() -> None:
    options = {**OPTIONS, "args": ["ignored"]}  # build() lets options override args
    plans = plan_bulk("a.B", [[1]], options, [], now=NOW)
    assert plans[0] == plan_push("a.B", [1], options, [], now=NOW, jid=plans[0].jid)


def test_plan_bulk_rejects_non_finite_and_oversized_numbers_by_item() -> None:
    for bad in (float("nan"), float("inf"), 2**64):
        with pytest.raises(TypeError, match=r"perform_bulk item 1: args\[0\]"):
            plan_bulk("a.B", [[1], [bad]], OPTIONS, [], now=NOW)


# --- writes ----------------------------------------------------------------------------------


def _plan(jid: str, queue: str = "q", at: float | None = None) -> PushPlan:
    return PushPlan(jid, queue, jid.encode(), at)


def test_an_immediate_push_is_sadd_then_lpush() -> None:
    pipe = RecordingPipe()
    queue_writes(pipe, [_plan("j1")])
    assert pipe.commands == [("sadd", keys.QUEUES, "q"), ("lpush", "queue:q", b"j1")]


def test_a_scheduled_push_is_one_zadd() -> None:
    pipe = RecordingPipe()
    queue_writes(pipe, [_plan("j1", at=5.5)])
    assert pipe.commands == [("zadd", keys.SCHEDULE, {b"j1": 5.5})]


def test_a_bulk_push_is_one_lpush_per_queue_in_push_order() -> None:
    pipe = RecordingPipe()
    queue_writes(pipe, [_plan("a1", "a"), _plan("b1", "b"), _plan("a2", "a")])
    assert pipe.commands == [
        ("sadd", keys.QUEUES, "a"),
        ("lpush", "queue:a", b"a1", b"a2"),
        ("sadd", keys.QUEUES, "b"),
        ("lpush", "queue:b", b"b1"),
    ]


def test_a_mixed_bulk_push_zadds_the_scheduled_ones_together() -> None:
    pipe = RecordingPipe()
    queue_writes(pipe, [_plan("s1", at=9.0), _plan("n1"), _plan("s2", at=10.0)])
    assert ("zadd", keys.SCHEDULE, {b"s1": 9.0, b"s2": 10.0}) in pipe.commands
    assert [c[0] for c in pipe.commands].count("zadd") == 1


def test_group_by_target_separates_queues_and_scheduling() -> None:
    groups = group_by_target([_plan("a"), _plan("b", at=1.0), _plan("c")])
    assert {k: [p.jid for p in v] for k, v in groups.items()} == {
        ("q", False): ["a", "c"],
        ("q", True): ["b"],
    }
