"""Inline mode: every push runs its job at once, in-process, through the server middleware."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from henchman import Henchman, Job, JobRun, Middleware, Settings, current_job
from henchman.redis.connection import Connector
from henchman.testing import inline, recording


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("henchman.testing opened a Redis connection")

    monkeypatch.setattr(Connector, "sync", refuse)
    monkeypatch.setattr(Connector, "asyncio", refuse)


@pytest.fixture
def app() -> Iterator[Henchman]:
    application = Henchman(Settings(redis_url="redis://127.0.0.1:1", reliable_push=False))
    yield application
    application.close()


class Calls(Middleware):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        self.seen.append(run.payload["class"])
        return call_next()

    async def acall(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        self.seen.append(run.payload["class"])
        return await call_next()


def test_a_push_runs_the_job_before_returning_its_jid(app: Henchman) -> None:
    ran: list[tuple[int, str]] = []

    @app.job
    def work(n: int) -> None:
        job = current_job()
        assert job is not None
        ran.append((n, job.jid))

    with inline(app):
        jid = work.perform_async(1)

    assert jid is not None
    assert ran == [(1, jid)]


def test_scheduled_and_bulk_pushes_run_at_once(app: Henchman) -> None:
    ran: list[int] = []

    @app.job
    def work(n: int) -> None:
        ran.append(n)

    with inline(app):
        work.perform_in(3600, 1)
        work.set(queue="low").perform_at(4102444800, 2)
        work.perform_bulk([[3], [4]], batch_size=1)
        app.enqueue(work.name, 5)

    assert ran == [1, 2, 3, 4, 5]


def test_the_server_middleware_wraps_inline_jobs(app: Henchman) -> None:
    calls = Calls()
    app.middleware.add(calls)

    @app.job(name="Work")
    def work() -> None: ...

    with inline(app):
        work.perform_async()

    assert calls.seen == ["Work"]


def test_a_job_exception_propagates_from_the_push(app: Henchman) -> None:
    @app.job
    def work() -> None:
        raise ValueError("boom")

    with inline(app), pytest.raises(ValueError, match="boom"):
        work.perform_async()


def test_jobs_pushed_by_a_job_run_nested(app: Henchman) -> None:
    ran: list[str] = []

    @app.job
    def child(n: int) -> None:
        ran.append(f"child {n}")

    class Parent(Job, app=app):
        def perform(self) -> None:
            ran.append("parent start")
            child.perform_async(1)
            ran.append("parent end")

    with inline(app):
        Parent.perform_async()

    assert ran == ["parent start", "child 1", "parent end"]


def test_non_json_args_raise_and_the_job_does_not_run(app: Henchman) -> None:
    ran: list[object] = []

    @app.job
    def work(value: object) -> None:
        ran.append(value)

    with inline(app), pytest.raises(TypeError, match=r"args\[1\]"):
        work.perform_async(1, b"bytes")
    assert ran == []


def test_a_push_dropped_by_client_middleware_does_not_run(app: Henchman) -> None:
    ran: list[int] = []
    app.client_middleware.append(lambda name, payload, queue: None)

    @app.job
    def work() -> None:
        ran.append(1)

    with inline(app):
        assert work.perform_async() is None
    assert ran == []


def test_async_jobs_and_async_pushes_run_inline(app: Henchman) -> None:
    calls = Calls()
    app.middleware.add(calls)
    ran: list[str] = []

    @app.job(name="AsyncWork")
    async def async_work(n: int) -> None:
        await asyncio.sleep(0)
        ran.append(f"async {n}")

    @app.job(name="SyncWork")
    def sync_work(n: int) -> None:
        ran.append(f"sync {n}")

    async def scenario() -> None:
        await async_work.aperform_async(1)
        await sync_work.aperform_async(2)

    with inline(app):
        async_work.perform_async(0)
        asyncio.run(scenario())

    assert ran == ["async 0", "async 1", "sync 2"]
    assert calls.seen == ["AsyncWork", "AsyncWork", "SyncWork"]


def test_leaving_the_block_restores_the_previous_mode(app: Henchman) -> None:
    ran: list[int] = []

    @app.job
    def work(n: int) -> None:
        ran.append(n)

    with recording(app) as rec:
        with inline(app):
            work.perform_async(1)
        work.perform_async(2)

    assert ran == [1]
    assert [j["args"] for j in rec.jobs] == [[2]]
