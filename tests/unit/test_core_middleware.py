"""The server middleware chain and the job-logging middleware."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from henchman.context import JobContext
from henchman.middleware.chain import Chain, JobRun, Middleware
from henchman.middleware.job_logging import JobLogging


class Tracing(Middleware):
    def __init__(self, name: str, trail: list[str]) -> None:
        self.name = name
        self.trail = trail

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        self.trail.append(f"{self.name}>")
        try:
            return call_next()
        finally:
            self.trail.append(f"<{self.name}")

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        self.trail.append(f"{self.name}>")
        try:
            return await call_next()
        finally:
            self.trail.append(f"<{self.name}")


class Skip(Middleware):
    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        return "skipped"

    async def acall(self, run: JobRun, call_next: Callable[[], Awaitable[Any]]) -> Any:
        return "skipped"


def run_of(**payload: Any) -> JobRun:
    body = {"class": "app.Job", "args": [], "jid": "f" * 24, **payload}
    return JobRun(JobContext(body, "default"))


def chain_of(trail: list[str], *names: str) -> Chain:
    return Chain([Tracing(n, trail) for n in names])


def test_the_first_entry_is_the_outermost() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a", "b")
    chain.invoke(run_of(), lambda: trail.append("job"))
    assert trail == ["a>", "b>", "job", "<b", "<a"]


def test_the_chain_returns_the_jobs_result() -> None:
    assert Chain([Middleware()]).invoke(run_of(), lambda: 42) == 42


def test_an_empty_chain_runs_the_job() -> None:
    assert Chain().invoke(run_of(), lambda: "ran") == "ran"


def test_a_middleware_that_does_not_call_next_skips_the_job() -> None:
    ran: list[int] = []
    result = Chain([Skip()]).invoke(run_of(), lambda: ran.append(1))
    assert result == "skipped"
    assert ran == []


def test_a_skip_stops_inner_middleware_too() -> None:
    trail: list[str] = []
    chain = Chain([Tracing("outer", trail), Skip(), Tracing("inner", trail)])
    chain.invoke(run_of(), lambda: trail.append("job"))
    assert trail == ["outer>", "<outer"]


def test_exceptions_from_the_job_propagate_through_the_chain() -> None:
    trail: list[str] = []

    def fail() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        chain_of(trail, "a").invoke(run_of(), fail)
    assert trail == ["a>", "<a"]


def test_the_async_chain_has_the_same_order() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a", "b")

    async def job() -> str:
        trail.append("job")
        return "done"

    assert asyncio.run(chain.ainvoke(run_of(), job)) == "done"
    assert trail == ["a>", "b>", "job", "<b", "<a"]


def test_the_async_chain_can_skip() -> None:
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    assert asyncio.run(Chain([Skip()]).ainvoke(run_of(), job)) == "skipped"
    assert ran == []


def test_the_base_middleware_passes_async_jobs_through() -> None:
    async def job() -> int:
        return 7

    assert asyncio.run(Chain([Middleware()]).ainvoke(run_of(), job)) == 7


def test_add_appends_innermost_and_prepend_puts_first() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "mid")
    chain.add(Tracing("inner", trail))
    chain.prepend(Tracing("outer", trail))
    assert chain.names() == ["outer", "mid", "inner"]


def test_insert_before_puts_an_entry_just_outside_the_named_one() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a", "b")
    chain.insert_before("b", Tracing("x", trail))
    assert chain.names() == ["a", "x", "b"]


def test_insert_after_puts_an_entry_just_inside_the_named_one() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a", "b")
    chain.insert_after("a", Tracing("x", trail))
    assert chain.names() == ["a", "x", "b"]


def test_insert_next_to_an_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no middleware named 'nope'"):
        chain_of([], "a").insert_before("nope", Middleware())


def test_remove_drops_every_entry_with_the_name() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a", "b", "a")
    chain.remove("a")
    assert chain.names() == ["b"]


def test_remove_of_an_unknown_name_changes_nothing() -> None:
    chain = chain_of([], "a")
    chain.remove("zzz")
    assert chain.names() == ["a"]


def test_an_unnamed_middleware_is_named_for_its_class() -> None:
    assert Chain([Skip()]).names() == ["Skip"]


def test_editing_the_chain_does_not_affect_a_run_in_progress() -> None:
    trail: list[str] = []
    chain = chain_of(trail, "a")

    def job() -> None:
        chain.add(Tracing("late", trail))
        trail.append("job")

    chain.invoke(run_of(), job)
    assert trail == ["a>", "job", "<a"]
    assert len(chain) == 2


def test_a_middleware_sees_the_payload_queue_and_instance() -> None:
    seen: list[Any] = []

    class Look(Middleware):
        def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
            seen.append((run.payload["jid"], run.queue, run.job))
            return call_next()

    Chain([Look()]).invoke(run_of(), lambda: None)
    assert seen == [("f" * 24, "default", None)]


def test_the_app_chain_is_expiry_logging_metrics_then_timeout() -> None:
    from henchman.app import Henchman
    from henchman.config import Settings

    chain = Henchman(Settings(redis_url="redis://127.0.0.1:1")).middleware
    assert chain.names() == [
        "expiry", "logging", "metrics", "unique", "limiter", "encryption", "results", "timeout",
    ]  # fmt: skip


# --- JobLogging ------------------------------------------------------------------------------


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def job_log() -> Iterator[ListHandler]:
    logger = logging.getLogger("henchman.job")
    handler = ListHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_job_logging_logs_start_and_done_with_the_jobs_fields(job_log: ListHandler) -> None:
    Chain([JobLogging()]).invoke(run_of(bid="b1", tags=["t"]), lambda: None)
    start, done = job_log.records
    assert start.getMessage() == "start"
    assert done.getMessage().startswith("done: ")
    assert done.getMessage().endswith(" sec")
    for record in (start, done):
        assert record.jid == "f" * 24  # type: ignore[attr-defined]
        assert record.job_class == "app.Job"  # type: ignore[attr-defined]
        assert record.queue == "default"  # type: ignore[attr-defined]
        assert record.bid == "b1"  # type: ignore[attr-defined]
        assert record.tags == ["t"]  # type: ignore[attr-defined]
    assert isinstance(done.elapsed, float)  # type: ignore[attr-defined]


def test_job_logging_logs_fail_and_reraises(job_log: ListHandler) -> None:
    def fail() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError, match="x"):
        Chain([JobLogging()]).invoke(run_of(), fail)
    assert [r.getMessage().split(":")[0] for r in job_log.records] == ["start", "fail"]


def test_job_logging_logs_async_jobs(job_log: ListHandler) -> None:
    async def job() -> None:
        pass

    asyncio.run(Chain([JobLogging()]).ainvoke(run_of(), job))
    assert [r.getMessage().split(":")[0] for r in job_log.records] == ["start", "done"]


def test_a_per_job_log_level_above_info_silences_job_logging(job_log: ListHandler) -> None:
    Chain([JobLogging()]).invoke(run_of(log_level="warning"), lambda: None)
    assert job_log.records == []


def test_job_logging_is_silent_when_info_is_disabled(job_log: ListHandler) -> None:
    logging.getLogger("henchman.job").setLevel(logging.WARNING)
    Chain([JobLogging()]).invoke(run_of(), lambda: None)
    assert job_log.records == []
