"""Recording mode: pushes are captured (never written, never connecting) and drained in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import henchman
from henchman import Henchman, Job, JobRun, Middleware, Settings, current_job
from henchman.client.sync import Client
from henchman.errors import UnknownJob
from henchman.redis.connection import Connector
from henchman.testing import Recorder, recording

UNREACHABLE = "redis://127.0.0.1:1"


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a Redis connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("henchman.testing opened a Redis connection")

    monkeypatch.setattr(Connector, "sync", refuse)
    monkeypatch.setattr(Connector, "asyncio", refuse)


@pytest.fixture
def app() -> Iterator[Henchman]:
    """An app whose server does not exist: any write to Redis would fail loudly."""
    application = Henchman(Settings(redis_url=UNREACHABLE, reliable_push=False))
    yield application
    application.close()


@pytest.fixture
def rec(app: Henchman) -> Iterator[Recorder]:
    with recording(app) as recorder:
        yield recorder


class Calls(Middleware):
    """Server middleware that notes every job it wraps."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def call(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        self.seen.append((run.payload["class"], run.queue))
        return call_next()

    async def acall(self, run: JobRun, call_next: Callable[[], Any]) -> Any:
        self.seen.append((run.payload["class"], run.queue))
        return await call_next()


def test_perform_async_is_captured_with_a_full_payload(app: Henchman, rec: Recorder) -> None:
    @app.job(queue="mailers", name="SendEmail")
    def send_email(user_id: int) -> None: ...

    jid = send_email.perform_async(42)

    [payload] = rec.jobs
    assert payload["jid"] == jid
    assert payload["class"] == "SendEmail"
    assert payload["args"] == [42]
    assert payload["queue"] == "mailers"
    assert payload["retry"] is True
    assert "enqueued_at" in payload
    assert "at" not in payload


def test_scheduled_pushes_are_captured_with_their_time(app: Henchman, rec: Recorder) -> None:
    @app.job
    def later(n: int) -> None: ...

    before = time.time()
    later.perform_in(60, 1)
    later.perform_at(before + 120, 2)

    first, second = rec.jobs
    assert first["at"] == pytest.approx(before + 60, abs=5)
    assert second["at"] == before + 120
    assert "enqueued_at" not in first
    assert "enqueued_at" not in second


def test_every_push_method_is_captured_in_push_order(app: Henchman, rec: Recorder) -> None:
    @app.job(name="Work")
    def work(n: int) -> None: ...

    work.perform_async(1)
    work.set(queue="low").perform_async(2)
    work.perform_bulk([[3], [4]])
    app.enqueue("Remote::Job", 5, queue="ruby")

    assert [(j["class"], j["args"], j["queue"]) for j in rec.jobs] == [
        ("Work", [1], "default"),
        ("Work", [2], "low"),
        ("Work", [3], "default"),
        ("Work", [4], "default"),
        ("Remote::Job", [5], "ruby"),
    ]


def test_async_client_pushes_are_captured(app: Henchman, rec: Recorder) -> None:
    @app.job(name="Work")
    def work(n: int) -> None: ...

    async def push() -> list[str | None]:
        return [
            await work.aperform_async(1),
            await work.aperform_in(30, 2),
            *await work.aperform_bulk([[3]]),
        ]

    jids = asyncio.run(push())

    assert [j["jid"] for j in rec.jobs] == jids
    assert [j["args"] for j in rec.jobs] == [[1], [2], [3]]
    assert "at" in rec.jobs[1]


def test_jobs_for_accepts_a_function_a_job_class_a_setter_or_a_wire_name(
    app: Henchman, rec: Recorder
) -> None:
    @app.job(name="FnJob")
    def fn_job() -> None: ...

    class ClassJob(Job, app=app, name="ClassJob"):
        def perform(self) -> None: ...

    fn_job.perform_async()
    ClassJob.perform_async()
    ClassJob.perform_async()

    assert len(rec.jobs_for(fn_job)) == 1
    assert len(rec.jobs_for(ClassJob)) == 2
    assert len(rec.jobs_for(fn_job.set(queue="x"))) == 1
    assert len(rec.jobs_for("ClassJob")) == 2
    assert rec.jobs_for("Nothing") == []


def test_jobs_for_rejects_an_abstract_job_class(rec: Recorder) -> None:
    class Base(Job, abstract=True):
        pass

    with pytest.raises(TypeError, match="abstract"):
        rec.jobs_for(Base)


def test_non_json_args_still_raise_and_nothing_is_captured(app: Henchman, rec: Recorder) -> None:
    @app.job
    def work(when: object) -> None: ...

    with pytest.raises(TypeError, match=r"args\[0\]\['when'\]"):
        work.perform_async({"when": object()})
    with pytest.raises(TypeError, match="perform_bulk item 1"):
        work.perform_bulk([[1], [{1, 2}]])
    assert rec.jobs == []


def test_client_middleware_runs_and_can_drop_a_push(app: Henchman, rec: Recorder) -> None:
    @app.job(name="Work")
    def work(n: int) -> None: ...

    def tag_or_drop(name: str, payload: dict[str, Any], queue: str) -> dict[str, Any] | None:
        if payload["args"] == [0]:
            return None
        return {**payload, "tags": ["seen"]}

    app.client_middleware.append(tag_or_drop)  # added inside the block: still applies

    assert work.perform_async(0) is None
    assert work.perform_async(1) is not None
    assert [(j["args"], j["tags"]) for j in rec.jobs] == [([1], ["seen"])]


def test_drain_runs_jobs_in_push_order_through_the_server_middleware(
    app: Henchman, rec: Recorder
) -> None:
    calls = Calls()
    app.middleware.add(calls)
    ran: list[tuple[int, str]] = []

    @app.job(name="Work", queue="q1")
    def work(n: int) -> None:
        job = current_job()
        assert job is not None
        ran.append((n, job.jid))

    jids = [work.perform_async(n) for n in (1, 2, 3)]

    assert rec.drain() == 3
    assert ran == [(1, jids[0]), (2, jids[1]), (3, jids[2])]
    assert calls.seen == [("Work", "q1")] * 3
    assert rec.jobs == []


def test_drain_runs_jobs_enqueued_while_draining(app: Henchman, rec: Recorder) -> None:
    ran: list[str] = []

    @app.job
    def leaf(n: int) -> None:
        ran.append(f"leaf {n}")

    @app.job
    def fan_out(n: int) -> None:
        ran.append("fan_out")
        leaf.perform_bulk([[i] for i in range(n)])

    @app.job
    def root() -> None:
        ran.append("root")
        fan_out.perform_in(3600, 2)

    root.perform_async()

    assert rec.drain() == 4
    assert ran == ["root", "fan_out", "leaf 0", "leaf 1"]
    assert len(rec) == 0


def test_drain_runs_scheduled_jobs_regardless_of_time_in_push_order(
    app: Henchman, rec: Recorder
) -> None:
    seen: list[tuple[int, bool]] = []

    @app.job
    def work(n: int) -> None:
        job = current_job()
        assert job is not None
        seen.append((n, "enqueued_at" in job.payload))

    work.perform_in(3600, 1)
    work.perform_async(2)
    work.perform_at(time.time() + 86400 * 365, 3)

    assert rec.drain() == 3
    assert seen == [(1, True), (2, True), (3, True)]


def test_drain_of_one_job_leaves_the_others_queued(app: Henchman, rec: Recorder) -> None:
    ran: list[str] = []

    @app.job
    def other() -> None:
        ran.append("other")

    @app.job
    def wanted() -> None:
        ran.append("wanted")
        other.perform_async()

    other.perform_async()
    wanted.perform_async()
    wanted.perform_async()

    assert rec.drain(wanted) == 2
    assert ran == ["wanted", "wanted"]
    assert len(rec.jobs_for(other)) == 3
    assert rec.drain_all() == 3


def test_drain_runs_async_jobs_through_the_async_middleware(app: Henchman, rec: Recorder) -> None:
    calls = Calls()
    app.middleware.add(calls)
    ran: list[str] = []

    @app.job(name="AsyncFn")
    async def async_fn(n: int) -> None:
        await asyncio.sleep(0)
        ran.append(f"fn {n}")
        await AsyncClass.aperform_async(n + 1)

    class AsyncClass(Job, app=app, name="AsyncClass"):
        async def perform(self, n: int) -> None:
            ran.append(f"class {n} {self.jid == self.payload['jid']}")

    async def push() -> None:
        await async_fn.aperform_async(1)

    asyncio.run(push())

    assert rec.drain() == 2
    assert ran == ["fn 1", "class 2 True"]
    assert calls.seen == [("AsyncFn", "default"), ("AsyncClass", "default")]


def test_drain_works_from_inside_a_running_event_loop(app: Henchman, rec: Recorder) -> None:
    ran: list[int] = []

    @app.job
    async def work(n: int) -> None:
        ran.append(n)

    async def scenario() -> int:
        await work.aperform_async(7)
        return rec.drain()

    assert asyncio.run(scenario()) == 1
    assert ran == [7]


def test_drain_gives_each_job_a_json_round_trip_copy(app: Henchman, rec: Recorder) -> None:
    received: list[Any] = []

    @app.job
    def work(data: dict[str, Any]) -> None:
        received.append(data)

    arg = {"items": [1, 2]}
    work.perform_async(arg)
    arg["items"].append(3)  # a later change to the caller's object is not seen by the job

    rec.drain()
    assert received == [{"items": [1, 2]}]
    assert received[0] is not arg


def test_drain_propagates_an_exception_and_keeps_the_rest_queued(
    app: Henchman, rec: Recorder
) -> None:
    ran: list[int] = []

    @app.job
    def work(n: int) -> None:
        if n == 2:
            raise ValueError("boom")
        ran.append(n)

    for n in (1, 2, 3):
        work.perform_async(n)

    with pytest.raises(ValueError, match="boom"):
        rec.drain()
    assert ran == [1]
    assert [j["args"] for j in rec.jobs] == [[3]]
    assert rec.drain() == 1


def test_drain_of_an_unregistered_job_raises_unknown_job(app: Henchman, rec: Recorder) -> None:
    app.enqueue("Ruby::Only", 1)
    with pytest.raises(UnknownJob):
        rec.drain()


def test_clear_forgets_queued_jobs(app: Henchman, rec: Recorder) -> None:
    app.enqueue("Anything")
    rec.clear()
    assert rec.jobs == []
    assert rec.drain() == 0


def test_jobs_returns_fresh_dicts(app: Henchman, rec: Recorder) -> None:
    app.enqueue("Anything", 1)
    rec.jobs[0]["args"].append(2)
    assert rec.jobs[0]["args"] == [1]


def test_leaving_the_block_restores_the_real_clients(app: Henchman) -> None:
    client = Client(lambda: pytest.fail("not used"))
    app._client = client
    with recording(app) as rec:
        assert app.client is not client
        app.enqueue("Anything")
    assert app.client is client
    assert len(rec) == 1


def test_drain_after_the_block_refuses_to_run(app: Henchman) -> None:
    ran: list[int] = []

    @app.job
    def work() -> None:
        ran.append(1)

    with recording(app) as rec:
        work.perform_async()

    with pytest.raises(RuntimeError, match="only inside its recording"):
        rec.drain()
    assert ran == []
    assert len(rec.jobs_for(work)) == 1


def test_nested_recordings_restore_each_other(app: Henchman) -> None:
    with recording(app) as outer:
        app.enqueue("A")
        with recording(app) as inner:
            app.enqueue("B")
        app.enqueue("C")
    assert [j["class"] for j in outer.jobs] == ["A", "C"]
    assert [j["class"] for j in inner.jobs] == ["B"]


def test_recording_defaults_to_the_default_app() -> None:
    with recording() as rec:
        jid = henchman.enqueue("Remote::Job", 1, queue="ruby")
    assert rec.app is henchman.default_app()
    assert [j["jid"] for j in rec.jobs_for("Remote::Job")] == [jid]
