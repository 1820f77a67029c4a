"""Limiter and unique-job decisions that need no Redis: waiting, validation, the OverLimit
reschedule, unique options and lock lifetimes."""

from __future__ import annotations

import orjson
import pytest

import henchman
from henchman.client.plan import plan_push
from henchman.errors import OverLimit
from henchman.limits import middleware, waiting
from henchman.unique import UniquePush, digest, lock_ms, options


def test_a_refused_caller_sleeps_until_room_frees_plus_a_small_jitter() -> None:
    pause = waiting.pause(0.5, 5.0, 0.5, frees_early=False)
    assert pause is not None
    assert 0.5 <= pause <= 0.5 + waiting.MAX_JITTER


def test_a_refusal_that_cannot_clear_within_the_wait_timeout_gives_up_at_once() -> None:
    assert waiting.pause(3.0, 1.0, 0.0, frees_early=False) is None


def test_a_concurrent_waiter_blocks_at_most_max_block_and_never_past_its_deadline() -> None:
    assert waiting.pause(30.0, 10.0, 0.0, frees_early=True) == waiting.MAX_BLOCK
    assert waiting.pause(30.0, 0.3, 0.0, frees_early=True) == pytest.approx(0.3)


def test_no_time_left_means_over_limit() -> None:
    assert waiting.pause(0.01, 0.0, 0.0, frees_early=True) is None


def test_a_pause_is_never_zero() -> None:
    assert waiting.pause(0.0, 1.0, 0.0, frees_early=False) == waiting.MIN_PAUSE


@pytest.mark.parametrize("name", ["", "a b", "x:y", "é", "a" * 101, None, 3])
def test_invalid_limiter_names_are_refused_with_one_clear_line(name: object) -> None:
    with pytest.raises(ValueError, match="invalid limiter name"):
        henchman.limiter.concurrent(name, 1)  # type: ignore[arg-type]


def test_valid_limiter_names_use_letters_digits_dash_and_underscore() -> None:
    assert henchman.limiter.window("Api-v2_calls", 5, 1).name == "Api-v2_calls"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: henchman.limiter.concurrent("c", 0), "size must be a whole number"),
        (lambda: henchman.limiter.concurrent("c", 2, lock_timeout=0), "lock_timeout"),
        (lambda: henchman.limiter.concurrent("c", 2, wait_timeout=-1), "wait_timeout"),
        (lambda: henchman.limiter.bucket("b", 5, "fortnight"), "bucket interval must be one of"),
        (lambda: henchman.limiter.window("w", 5, 0), "window must be > 0"),
        (lambda: henchman.limiter.leaky("l", 5, float("inf")), "drain time"),
        (lambda: henchman.limiter.points("p", 1.5, 60), "points must be a whole number"),
    ],
)
def test_bad_limiter_definitions_are_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_a_points_estimate_larger_than_the_budget_is_refused_before_any_redis_call() -> None:
    limiter = henchman.limiter.points("p", 10, 60)
    with pytest.raises(ValueError, match="could never be admitted"):
        limiter.admission(estimate=11)


def test_an_unknown_within_limit_option_is_refused() -> None:
    with pytest.raises(TypeError, match="unexpected option"):
        henchman.limiter.bucket("b", 5, "second").admission(estimate=3)


def test_points_used_is_only_for_points_limiters() -> None:
    admission = henchman.limiter.window("w", 5, 1).admission()
    with pytest.raises(TypeError, match="not a points limiter"):
        admission.points_used(3)


def test_the_unlimited_limiter_admits_without_redis() -> None:
    limiter = henchman.limiter.unlimited()
    with limiter.within_limit(estimate=4) as handle:
        handle.points_used(9)


def test_the_default_backoff_is_sidekiq_enterprises_linear_one() -> None:
    assert middleware.linear_backoff(1, 0.0) == 300
    assert middleware.linear_backoff(3, 0.999) == pytest.approx(900 + 299.7)


def test_an_over_limit_job_is_rescheduled_with_overrated_counted() -> None:
    found = middleware.reschedule(
        {"jid": "j", "overrated": 4}, OverLimit("x", "over"), now=1000.0, jitter=0.0,
        max_overrated=20, backoff=None,
    )  # fmt: skip
    assert found is not None
    assert found.payload == {"jid": "j", "overrated": 5}
    assert found.at == 1000.0 + 1500


def test_a_job_over_limit_twenty_times_is_no_longer_rescheduled() -> None:
    found = middleware.reschedule(
        {"jid": "j", "overrated": 20}, OverLimit("x", "over"), now=0.0, jitter=0.0,
        max_overrated=20, backoff=None,
    )  # fmt: skip
    assert found is None


def test_a_custom_backoff_decides_the_delay() -> None:
    found = middleware.reschedule(
        {"jid": "j"}, OverLimit("x", "over"), now=10.0, jitter=0.0, max_overrated=20,
        backoff=lambda n, exc, job: 7 * n,
    )  # fmt: skip
    assert found is not None
    assert found.at == 17.0


def test_unique_needs_unique_for_and_a_known_until() -> None:
    assert options({"unique_for": 60}) == (60.0, "success")
    assert options({"unique_for": 1.5, "unique_until": "start"}) == (1.5, "start")
    assert options({}) is None
    with pytest.raises(ValueError, match="unique_until needs unique_for"):
        options({"unique_until": "start"})
    with pytest.raises(ValueError, match="unique_until must be"):
        options({"unique_for": 5, "unique_until": "finish"})
    with pytest.raises(ValueError, match="unique_for must be"):
        options({"unique_for": "1h"})


def test_a_scheduled_unique_job_holds_its_lock_for_the_delay_plus_unique_for() -> None:
    assert lock_ms(60, None, 1000.0) == 60_000
    assert lock_ms(60, 1030.0, 1000.0) == 90_000


def test_the_digest_covers_class_queue_and_args() -> None:
    base = digest("A", "q", [1, "x"])
    assert base == digest("A", "q", [1, "x"])
    assert len({base, digest("B", "q", [1, "x"]), digest("A", "r", [1, "x"]),
                digest("A", "q", [2, "x"])}) == 4  # fmt: skip


def test_a_plain_push_is_not_claimed_by_the_unique_hook() -> None:
    assert UniquePush().script_for({"class": "A", "queue": "q", "args": []}, None, 0) is None


def test_a_unique_push_is_one_script_carrying_the_payload_that_names_its_lock() -> None:
    options = {"queue": "q", "retry": True, "unique_for": 30}
    plan = plan_push("A", [1], options, [], now=100.0, hooks=[UniquePush()])
    assert plan is not None
    assert plan.script is not None
    assert plan.script.script == "unique_push"
    payload = orjson.loads(plan.raw)
    assert payload["unique_key"] == plan.script.keys[0] == "unique:" + digest("A", "q", [1])
    assert plan.script.args[-1] == plan.raw


def test_a_plain_push_keeps_the_plain_write_when_hooks_are_installed() -> None:
    plan = plan_push("A", [1], {"queue": "q", "retry": True}, [], now=100.0, hooks=[UniquePush()])
    assert plan is not None
    assert plan.script is None
    assert "unique_key" not in orjson.loads(plan.raw)


def test_bulk_pushes_of_unique_jobs_are_refused() -> None:
    with pytest.raises(ValueError, match="perform_bulk cannot push unique jobs"):
        UniquePush().check_bulk({"queue": "q", "unique_for": 10})
