"""Iterable jobs on a real server: interrupt, resume, errors, cancel, callbacks, state."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.iteration import enumerators
from henchman.iteration.state import STATE_TTL
from henchman.testing import IterationHarness, run_with_interruptions
from tests.conftest import RedisDB


def letters(app: Henchman, seen: list[Any], calls: list[str] | None = None) -> type[Any]:
    """A job over "abcdefghij" that records items and callbacks."""
    log = calls if calls is not None else []

    class Letters(henchman.IterableJob, app=app):
        def build_enumerator(self, word: str, *, cursor: int | None) -> Iterator[Any]:
            log.append(f"build:{cursor}")
            return enumerators.sequence(word, cursor)

        def each_iteration(self, item: str, word: str) -> None:
            seen.append(item)

        def on_start(self) -> None:
            log.append("start")

        def on_resume(self) -> None:
            log.append("resume")

        def on_stop(self) -> None:
            log.append("stop")

        def on_complete(self) -> None:
            log.append("complete")

        def on_cancel(self) -> None:
            log.append("cancel")

    return Letters


def state(redis_db: RedisDB, jid: str) -> dict[str, str]:
    raw = redis_db.client.hgetall(keys.iteration_state(jid))
    return {k.decode(): v.decode() for k, v in raw.items()}


def test_a_job_processes_every_item_once_and_deletes_its_state(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[str] = []
    harness = IterationHarness(letters(app, seen), "abcdefghij")
    assert harness.run().outcome == "completed"
    assert seen == list("abcdefghij")
    assert not redis_db.client.exists(keys.iteration_state(harness.jid))


def test_an_interrupted_run_saves_the_next_cursor_and_the_next_run_resumes_there(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[str] = []
    calls: list[str] = []
    harness = IterationHarness(letters(app, seen, calls), "abcdefghij")
    first = harness.run(interrupt_after=3)
    assert (first.outcome, first.at_head, first.cursors) == ("interrupted", True, [0, 1, 2])
    saved = state(redis_db, harness.jid)
    assert (saved["ex"], saved["c"]) == ("1", "3")
    assert harness.run().outcome == "completed"
    assert seen == list("abcdefghij")
    assert calls == ["build:None", "start", "stop", "build:3", "resume", "stop", "complete"]


def test_the_state_hash_has_sidekiq_fields_types_and_ttl(app: Henchman, redis_db: RedisDB) -> None:
    harness = IterationHarness(letters(app, []), "abcdefghij")
    harness.run(interrupt_after=4)
    saved = state(redis_db, harness.jid)
    assert set(saved) == {"ex", "c", "rt"}
    assert int(saved["ex"]) == 1
    assert orjson.loads(saved["c"]) == 4
    assert 0 <= float(saved["rt"]) < 5
    assert STATE_TTL - 10 < redis_db.client.ttl(keys.iteration_state(harness.jid)) <= STATE_TTL


def test_state_written_by_ruby_sidekiq_is_resumed(app: Henchman, redis_db: RedisDB) -> None:
    seen: list[str] = []
    harness = IterationHarness(letters(app, seen), "abcdefghij")
    redis_db.client.hset(
        keys.iteration_state(harness.jid), mapping={"ex": 2, "c": "7", "rt": "12.5"}
    )
    harness.run(interrupt_after=1)
    assert seen == ["h"]
    saved = state(redis_db, harness.jid)
    assert (saved["ex"], saved["c"]) == ("3", "8")
    assert float(saved["rt"]) >= 12.5


def test_an_exception_saves_the_failing_cursor_and_the_retry_resumes_at_that_item(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[int] = []
    fail_at = {5}

    class Flaky(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 8, cursor)

        def each_iteration(self, number: int) -> None:
            if number in fail_at:
                fail_at.discard(number)
                raise ValueError(f"bad {number}")
            seen.append(number)

    harness = IterationHarness(Flaky)
    with pytest.raises(ValueError, match="bad 5"):
        harness.run()
    assert state(redis_db, harness.jid)["c"] == "5"
    assert harness.run().outcome == "completed"
    assert seen == list(range(8))


def test_cancel_before_a_run_stops_the_job_without_processing(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[str] = []
    calls: list[str] = []
    harness = IterationHarness(letters(app, seen, calls), "abcdefghij")
    harness.run(interrupt_after=2)
    cancelled_at = henchman.cancel(harness.jid, app=app)
    assert abs(cancelled_at - time.time()) < 5
    assert henchman.cancel(harness.jid, app=app) == cancelled_at  # the first time is kept
    assert harness.run().outcome == "cancelled"
    assert seen == ["a", "b"]
    assert calls[-2:] == ["cancel", "stop"]
    assert not redis_db.client.exists(keys.iteration_state(harness.jid))


def test_cancel_while_running_is_seen_at_the_next_state_write(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[int] = []

    class Cancels(henchman.IterableJob, app=app):
        _flush_interval = 0.0  # write the state before every item

        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 10, cursor)

        def each_iteration(self, number: int) -> None:
            seen.append(number)
            if number == 3:
                henchman.cancel(self.jid, app=app)

    harness = IterationHarness(Cancels)
    assert harness.run().outcome == "cancelled"
    assert seen == [0, 1, 2, 3]
    assert not redis_db.client.exists(keys.iteration_state(harness.jid))


def test_state_is_written_periodically_while_items_run(app: Henchman, redis_db: RedisDB) -> None:
    cursors: list[str] = []

    class Periodic(henchman.IterableJob, app=app):
        _flush_interval = 0.0

        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 4, cursor)

        def each_iteration(self, number: int) -> None:
            cursors.append(state(redis_db, self.jid)["c"])

    IterationHarness(Periodic).run()
    assert cursors == ["0", "1", "2", "3"]


def test_max_iteration_runtime_requeues_at_the_tail(app: Henchman, redis_db: RedisDB) -> None:
    class Slow(henchman.IterableJob, app=app):
        max_iteration_runtime = 0.05

        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 25, cursor)

        def each_iteration(self, number: int) -> None:
            time.sleep(0.02)

    harness = IterationHarness(Slow)
    result = harness.run()
    assert (result.outcome, result.at_head) == ("interrupted", False)
    assert 1 <= len(result.cursors) <= 5
    harness.run_to_completion()
    harness.assert_each_item_once()


def test_a_push_can_override_max_iteration_runtime(app: Henchman) -> None:
    class Unlimited(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 50, cursor)

        def each_iteration(self, number: int) -> None:
            time.sleep(0.005)

    harness = IterationHarness(Unlimited, max_iteration_runtime=0.02)
    assert harness.run().outcome == "interrupted"


def test_a_quieting_process_interrupts_the_job(app: Henchman) -> None:
    from henchman.context import JobContext

    class Quiet(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.number_range(0, 5, cursor)

        def each_iteration(self, number: int) -> None:
            if number == 1:
                ctx: JobContext = self._ctx
                ctx.quieting = lambda: True

    harness = IterationHarness(Quiet)
    result = harness.run()
    assert (result.outcome, result.at_head, result.cursors) == ("interrupted", True, [0, 1])


def test_async_jobs_interrupt_and_resume_with_async_enumerators_and_callbacks(
    app: Henchman, redis_db: RedisDB
) -> None:
    seen: list[int] = []
    calls: list[str] = []

    class AsyncCount(henchman.IterableJob, app=app):
        async def build_enumerator(self, *, cursor: int | None) -> AsyncIterator[Any]:
            async def numbers() -> AsyncIterator[Any]:
                for number in range(cursor or 0, 6):
                    yield number, number

            return numbers()

        async def each_iteration(self, number: int) -> None:
            seen.append(number)

        async def on_start(self) -> None:
            calls.append("start")

        def on_resume(self) -> None:
            calls.append("resume")

        @contextlib.asynccontextmanager
        async def around_iteration(self) -> AsyncIterator[None]:
            calls.append(f"around:{self.cursor}")
            yield

    assert AsyncCount.__henchman__.is_async  # type: ignore[attr-defined]
    harness = IterationHarness(AsyncCount)
    assert harness.run(interrupt_after=2).outcome == "interrupted"
    assert state(redis_db, harness.jid)["c"] == "2"
    harness.run_to_completion(interrupt_every=3)
    harness.assert_each_item_once()
    assert seen == list(range(6))
    assert calls[:4] == ["start", "around:0", "around:1", "resume"]


def test_around_iteration_wraps_each_item(app: Henchman) -> None:
    events: list[str] = []

    class Wrapped(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.sequence(["x", "y"], cursor)

        @contextlib.contextmanager
        def around_iteration(self) -> Iterator[None]:
            events.append(f"enter:{self.cursor}")
            yield
            events.append("exit")

        def each_iteration(self, item: str) -> None:
            events.append(item)

    IterationHarness(Wrapped).run()
    assert events == ["enter:0", "x", "exit", "enter:1", "y", "exit"]


def test_the_harness_reports_an_enumerator_that_ignores_its_cursor(app: Henchman) -> None:
    class Forgetful(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            return enumerators.sequence("abcd", cursor and cursor - 1)  # bug: one item back

        def each_iteration(self, item: str) -> None:
            pass

    with pytest.raises(AssertionError, match="repeated cursors"):
        run_with_interruptions(Forgetful, every=3)


def test_run_with_interruptions_interrupts_every_n_items(app: Henchman) -> None:
    harness = run_with_interruptions(letters(app, []), "abcdefghij", every=3)
    assert [len(run.cursors) for run in harness.runs] == [3, 3, 3, 1]
    assert [run.outcome for run in harness.runs] == ["interrupted"] * 3 + ["completed"]


def test_non_json_cursors_fail_with_a_clear_error(app: Henchman) -> None:
    class BadCursor(henchman.IterableJob, app=app):
        _flush_interval = 0.0

        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            yield "item", object()

        def each_iteration(self, item: str) -> None:
            pass

    with pytest.raises(TypeError, match="not JSON-serializable"):
        IterationHarness(BadCursor).run()


def test_an_enumerator_must_yield_pairs(app: Henchman) -> None:
    class NotPairs(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return iter([1, 2])

        def each_iteration(self, item: int) -> None:
            pass

    with pytest.raises(TypeError, match=r"\(item, cursor\) pairs"):
        IterationHarness(NotPairs).run()
