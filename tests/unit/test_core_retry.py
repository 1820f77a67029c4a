"""Failure decisions: Sidekiq's backoff, retry limits, hooks, and the fields a failed
payload gains. Pure: clock and jitter are passed in."""

from __future__ import annotations

import base64
import textwrap
import zlib
from typing import Any

import pytest

from henchman import retry
from henchman.retry import Outcome

NOW = 1700000000.5


class Boom(Exception):
    pass


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def job(**fields: Any) -> dict[str, Any]:
    return {
        "class": "app.Job",
        "args": [1],
        "jid": "a" * 24,
        "queue": "default",
        "retry": True,
        **fields,
    }


def decide(payload: dict[str, Any], exc: BaseException | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("jitter", 0.0)
    kwargs.setdefault("default_max_retries", 25)
    return retry.decide(payload, exc or Boom("bad"), **kwargs)


# --- backoff / max_attempts ----------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 5, 10, 24])
def test_backoff_without_jitter_is_count_to_the_fourth_plus_15(count: int) -> None:
    assert retry.backoff(count, 0.0) == count**4 + 15


@pytest.mark.parametrize("count", [0, 1, 2, 5, 10, 24])
def test_backoff_jitter_stays_below_ten_times_count_plus_one(count: int) -> None:
    assert retry.backoff(count, 0.999999) < count**4 + 15 + 10 * (count + 1)


def test_the_first_retry_waits_15_to_25_seconds() -> None:
    assert 15 <= retry.backoff(0, 0.0) < retry.backoff(0, 0.9999) < 25


def test_twenty_five_retries_take_about_twenty_days() -> None:
    total = sum(retry.backoff(c, 0.5) for c in range(25))
    assert 19 * 86400 < total < 22 * 86400


@pytest.mark.parametrize(
    ("option", "expected"),
    [(True, 25), (None, 25), (5, 5), (0, 0), (False, 0), (-3, 0), ("5", 0)],
)
def test_max_attempts(option: Any, expected: int) -> None:
    assert retry.max_attempts(option, 25) == expected


# --- decide: outcomes ------------------------------------------------------------------------


def test_a_first_failure_with_retry_true_is_retried() -> None:
    decision = decide(job())
    assert decision.outcome is Outcome.RETRY
    assert decision.exhausted is False


def test_a_first_failure_sets_retry_count_zero_and_failed_at() -> None:
    decision = decide(job())
    assert decision.payload["retry_count"] == 0
    assert decision.payload["failed_at"] == NOW
    assert "retried_at" not in decision.payload


def test_a_later_failure_increments_retry_count_and_sets_retried_at() -> None:
    decision = decide(job(retry_count=3, failed_at=1.0), now=NOW)
    assert decision.payload["retry_count"] == 4
    assert decision.payload["retried_at"] == NOW
    assert decision.payload["failed_at"] == 1.0


def test_a_manually_retried_job_with_retry_count_minus_one_counts_from_zero() -> None:
    assert decide(job(retry_count=-1, failed_at=1.0)).payload["retry_count"] == 0


def test_the_retry_time_is_now_plus_backoff() -> None:
    decision = decide(job(retry_count=1), jitter=0.5)
    assert decision.at == NOW + retry.backoff(2, 0.5)


def test_the_first_retry_is_15_to_25_seconds_away() -> None:
    for jitter in (0.0, 0.5, 0.9999):
        assert 15 <= decide(job(), jitter=jitter).at - NOW < 25


def test_the_decision_does_not_mutate_the_input_payload() -> None:
    original = job()
    decide(original)
    assert original == job()


def test_retry_true_dies_after_the_default_number_of_retries() -> None:
    assert decide(job(retry_count=23)).outcome is Outcome.RETRY
    decision = decide(job(retry_count=24))
    assert decision.outcome is Outcome.DEAD
    assert decision.exhausted is True


def test_the_default_max_comes_from_the_caller() -> None:
    assert decide(job(retry_count=1), default_max_retries=2).outcome is Outcome.DEAD


def test_retry_five_allows_five_retries() -> None:
    assert decide(job(retry=5, retry_count=3)).outcome is Outcome.RETRY
    assert decide(job(retry=5, retry_count=4)).outcome is Outcome.DEAD


def test_retry_zero_goes_straight_to_dead() -> None:
    decision = decide(job(retry=0))
    assert decision.outcome is Outcome.DEAD
    assert decision.exhausted is True
    assert decision.payload["error_message"] == "bad"


def test_retry_false_discards_without_exhaustion() -> None:
    decision = decide(job(retry=False))
    assert decision.outcome is Outcome.DISCARD
    assert decision.exhausted is False


def test_dead_false_discards_an_exhausted_job() -> None:
    decision = decide(job(retry=0, dead=False))
    assert decision.outcome is Outcome.DISCARD
    assert decision.exhausted is True


def test_retry_queue_changes_the_queue_of_the_retry() -> None:
    assert decide(job(retry_queue="slow")).payload["queue"] == "slow"


def test_retry_for_keeps_retrying_inside_the_window() -> None:
    decision = decide(job(retry_for=3600, retry_count=30, failed_at=NOW - 60))
    assert decision.outcome is Outcome.RETRY


def test_retry_for_ignores_the_retry_count_limit() -> None:
    assert decide(job(retry=1, retry_for=3600, retry_count=5, failed_at=NOW - 1)).outcome is (
        Outcome.RETRY
    )


def test_retry_for_dies_once_the_window_has_passed() -> None:
    decision = decide(job(retry_for=50, retry_count=0, failed_at=NOW - 100))
    assert decision.outcome is Outcome.DEAD


def test_retry_for_counts_from_the_first_failure() -> None:
    assert decide(job(retry_for=10)).outcome is Outcome.RETRY


# --- decide: retry_in hook -------------------------------------------------------------------


def test_retry_in_returning_seconds_sets_the_delay() -> None:
    assert decide(job(), retry_in=lambda c, e, p: 42).at == NOW + 42


def test_retry_in_returning_a_float_sets_the_delay() -> None:
    assert decide(job(), retry_in=lambda c, e, p: 0.5).at == NOW + 0.5


def test_retry_in_returning_none_uses_the_default_backoff() -> None:
    decision = decide(job(), retry_in=lambda c, e, p: None, jitter=0.3)
    assert decision.at == NOW + retry.backoff(0, 0.3)


def test_retry_in_returning_discard_discards_without_exhaustion() -> None:
    decision = decide(job(), retry_in=lambda c, e, p: "discard")
    assert decision.outcome is Outcome.DISCARD
    assert decision.exhausted is False


def test_retry_in_returning_kill_sends_to_dead_as_exhausted() -> None:
    decision = decide(job(), retry_in=lambda c, e, p: "kill")
    assert decision.outcome is Outcome.DEAD
    assert decision.exhausted is True


def test_retry_in_returning_kill_with_dead_false_discards() -> None:
    assert decide(job(dead=False), retry_in=lambda c, e, p: "kill").outcome is Outcome.DISCARD


def test_a_raising_retry_in_falls_back_to_the_default_backoff() -> None:
    def broken(count: int, exc: BaseException, payload: dict[str, Any]) -> float:
        raise RuntimeError("hook bug")

    assert decide(job(), retry_in=broken).at == NOW + retry.backoff(0, 0.0)


def test_retry_in_returning_true_is_not_a_delay() -> None:
    assert decide(job(), retry_in=lambda c, e, p: True).at == NOW + retry.backoff(0, 0.0)


def test_retry_in_receives_the_count_the_exception_and_the_failed_payload() -> None:
    calls: list[tuple[int, BaseException, dict[str, Any]]] = []
    exc = Boom("x")
    decide(job(retry_count=2), exc, retry_in=lambda c, e, p: calls.append((c, e, p)))
    [(count, got, payload)] = calls
    assert count == 3
    assert got is exc
    assert payload["error_message"] == "x"


def test_retry_in_is_not_consulted_when_retries_are_exhausted() -> None:
    calls: list[int] = []
    decide(job(retry=0), retry_in=lambda c, e, p: calls.append(c))
    assert calls == []


# --- error fields ----------------------------------------------------------------------------


def test_the_failed_payload_carries_error_message_and_class() -> None:
    decision = decide(job(), ValueError("wrong value"))
    assert decision.payload["error_message"] == "wrong value"
    assert decision.payload["error_class"] == "ValueError"


def test_error_class_is_module_qualified_for_non_builtins() -> None:
    assert retry.error_class(Boom()) == f"{__name__}.Boom"


def test_error_message_is_truncated_to_ten_thousand_characters() -> None:
    assert retry.error_message(Boom("x" * 20_000)) == "x" * 10_000


def test_error_message_survives_a_raising_str() -> None:
    message = retry.error_message(Unprintable())
    assert message == "<str() of Unprintable failed: RuntimeError>"


def test_a_failed_payload_of_an_unprintable_exception_is_recorded() -> None:
    decision = decide(job(), Unprintable())
    assert decision.payload["error_message"].startswith("<str() of Unprintable failed")


# --- backtraces ------------------------------------------------------------------------------


def _raised() -> Boom:
    try:
        raise Boom("with trace")
    except Boom as exc:
        return exc


def test_no_backtrace_is_stored_by_default() -> None:
    assert "error_backtrace" not in decide(job(), _raised()).payload


def test_backtrace_true_stores_every_line_compressed() -> None:
    payload = decide(job(backtrace=True), _raised()).payload
    lines = retry.decompress_backtrace(payload["error_backtrace"])
    assert lines[0].startswith("Traceback")
    assert any("with trace" in line for line in lines)


def test_backtrace_n_stores_the_first_n_lines() -> None:
    payload = decide(job(backtrace=2), _raised()).payload
    assert len(retry.decompress_backtrace(payload["error_backtrace"])) == 2


def test_the_backtrace_is_a_string_not_a_list() -> None:
    assert isinstance(decide(job(backtrace=True), _raised()).payload["error_backtrace"], str)


def test_compress_then_decompress_round_trips() -> None:
    lines = ["a.rb:1:in `x'", "é", ""]
    assert retry.decompress_backtrace(retry.compress_backtrace(lines)) == lines


def test_compressed_backtrace_is_base64_of_zlib_json() -> None:
    blob = retry.compress_backtrace(["l1"])
    assert zlib.decompress(base64.b64decode(blob)) == b'["l1"]'


def test_decompress_accepts_rubys_line_wrapped_base64() -> None:
    blob = retry.compress_backtrace([f"line {n}" for n in range(50)])
    wrapped = "\n".join(textwrap.wrap(blob, 60)) + "\n"
    assert retry.decompress_backtrace(wrapped) == [f"line {n}" for n in range(50)]


@pytest.mark.parametrize("option", [None, False, 0])
def test_backtrace_lines_off(option: Any) -> None:
    assert retry.backtrace_lines(_raised(), option) is None


def test_the_settings_default_backtrace_applies_to_jobs_without_the_option() -> None:
    payload = decide(job(), _raised(), default_backtrace=3).payload
    assert len(retry.decompress_backtrace(payload["error_backtrace"])) == 3


def test_a_jobs_backtrace_false_overrides_the_settings_default() -> None:
    assert (
        "error_backtrace"
        not in decide(job(backtrace=False), _raised(), default_backtrace=3).payload
    )
