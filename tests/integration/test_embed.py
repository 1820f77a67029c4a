"""``henchman.embed``: a worker inside another process (an asyncio app, a Starlette app)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import ConfigError, RedisUnavailable
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, wait_for

OPTIONS = {"queue": "default", "retry": True}


def registry_is_clean(redis_db: RedisDB) -> bool:
    client = redis_db.client
    return not client.smembers(keys.PROCESSES) and not client.hgetall(keys.WORKING_LISTS)


def test_an_asyncio_app_with_an_embedded_worker_drains_jobs_and_stops_cleanly(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="embed.add")
    def add(n: int) -> None:
        ran.add(n)

    @app.job(name="embed.aadd")
    async def aadd(n: int) -> None:
        await asyncio.sleep(0)
        ran.add(-n)

    async def main() -> list[int]:
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        async with henchman.embed(app, queues=["default"], concurrency=3) as worker:
            assert worker.running
            assert {s: signal.getsignal(s) for s in handlers} == handlers, "no signal handlers"
            for n in range(1, 51):
                await app.aclient.push("embed.add", [n], OPTIONS)
                await app.aclient.push("embed.aadd", [n], OPTIONS)
            while len(ran.items) < 100:
                await asyncio.sleep(0.02)  # the host's loop stays free while jobs run
            identity = worker.identity
            assert redis_db.client.sismember(keys.PROCESSES, identity)
        assert not worker.running
        await app.aclient.aclose()
        return ran.items

    items = asyncio.run(main())
    assert sorted(items) == sorted([*range(1, 51), *range(-50, 0)])
    assert redis_db.client.llen(keys.queue("default")) == 0
    assert registry_is_clean(redis_db)


def test_stop_with_a_timeout_pushes_a_running_job_back_to_its_queue(
    app: Henchman, redis_db: RedisDB
) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    @app.job(name="embed.slow")
    def slow() -> None:
        started.set()
        release.wait(60)
        finished.set()

    worker = henchman.embed(app, concurrency=1).start()
    try:
        jid = app.client.push("embed.slow", [], OPTIONS)
        assert started.wait(30)
        worker.stop(timeout=0.2)
        # Stop returned while the job still runs (it waits to be released): the timeout, not
        # the job's end, ended the wait. Proven by the job's state, not by a wall-clock bound.
        assert not finished.is_set(), "stop honours its timeout"
        queued = [orjson.loads(raw) for raw in redis_db.client.lrange(keys.queue("default"), 0, -1)]
        assert [job["jid"] for job in queued] == [jid]
        assert registry_is_clean(redis_db)
    finally:
        release.set()  # the job's thread ends before the test's database is flushed
        wait_for(lambda: all(c.idle() for c in worker.launcher.capsules), what="the job's thread")


def test_quiet_stops_fetching_and_shows_in_the_heartbeat(app: Henchman, redis_db: RedisDB) -> None:
    ran = Recorder()

    @app.job(name="embed.one")
    def one() -> None:
        ran.add(1)

    with henchman.embed(app, concurrency=2) as worker:
        worker.quiet()
        wait_for(
            lambda: redis_db.client.hget(keys.process(worker.identity), "quiet") == b"true",
            what="a quiet heartbeat",
        )
        time.sleep(redis_db.settings().fetch_timeout + 0.2)  # a fetch in flight has ended
        app.client.push("embed.one", [], OPTIONS)
        time.sleep(0.5)
        assert ran.items == []
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_an_embedded_worker_recovers_orphans_like_any_worker(
    app: Henchman, redis_db: RedisDB
) -> None:
    ran = Recorder()

    @app.job(name="embed.recovered")
    def recovered(n: int) -> None:
        ran.add(n)

    dead = "gone-host:4242:dead00"
    working = keys.working(dead, "default")
    redis_db.client.hset(keys.WORKING_LISTS, working, orjson.dumps([dead, "default"]))
    payload = {"class": "embed.recovered", "args": [7], "jid": "o1", "queue": "default"}
    redis_db.client.lpush(working, orjson.dumps(payload))
    with henchman.embed(app, concurrency=1):
        wait_for(lambda: ran.items == [7], what="the orphan to run in the embedded worker")


def test_embed_refuses_bad_arguments_with_one_line(app: Henchman) -> None:
    with pytest.raises(ConfigError, match=r"embed\(concurrency=\.\.\.\) must be at least 1"):
        henchman.embed(app, concurrency=0)
    with pytest.raises(ConfigError, match="needs at least one queue"):
        henchman.embed(app, queues=[])
    with pytest.raises(ConfigError, match="weight"):
        henchman.embed(app, queues=["default,heavy"])
    worker = henchman.embed(app).start()
    try:
        with pytest.raises(ConfigError, match="already started"):
            worker.start()
    finally:
        worker.stop()


def test_a_starlette_lifespan_runs_an_embedded_worker(app: Henchman, redis_db: RedisDB) -> None:
    starlette = pytest.importorskip("starlette.applications")
    httpx = pytest.importorskip("httpx")
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    ran = Recorder()

    @app.job(name="embed.web")
    def web(n: int) -> None:
        ran.add(n)

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        async with henchman.embed(app, concurrency=2):
            yield

    async def enqueue(request: Request) -> JSONResponse:
        n = int(request.path_params["n"])
        return JSONResponse({"jid": await app.aclient.push("embed.web", [n], OPTIONS)})

    web_app = starlette.Starlette(routes=[Route("/jobs/{n}", enqueue)], lifespan=lifespan)

    async def serve() -> None:
        # The lifespan as a server runs it, and requests through httpx's ASGI transport.
        async with web_app.router.lifespan_context(web_app):
            transport = httpx.ASGITransport(app=web_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                for n in range(5):
                    assert (await http.get(f"/jobs/{n}")).status_code == 200
            while sorted(ran.items) != [0, 1, 2, 3, 4]:
                await asyncio.sleep(0.02)
        await app.aclient.aclose()

    asyncio.run(asyncio.wait_for(serve(), 30))
    assert registry_is_clean(redis_db)


def test_an_embedded_worker_that_cannot_reach_redis_raises_and_stop_is_harmless(
    tmp_path: Path,
) -> None:
    app = Henchman(Settings(redis_url=f"unix://{tmp_path}/nothing.sock", redis_timeout=0.5))
    worker = henchman.embed(app)
    with pytest.raises(RedisUnavailable):
        worker.start()
    worker.stop()
    assert not worker.running
