"""One shard going away while a worker serves it: the other shard's queues keep running, pushes
to the lost shard wait in its buffer, and both resume when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman.app import Henchman
from henchman.config import QueueSpec
from henchman.redis.embedded import EmbeddedServer
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, running_worker, wait_for

QUEUES = (QueueSpec("default"), QueueSpec("reports"))


@pytest.fixture
def reports_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A server of this test's own, so it may stop it."""
    server = EmbeddedServer(tmp_path / "reports-home")
    server.ensure_running()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(90)
def test_a_lost_shard_does_not_stop_the_other_shards_queues_and_its_pushes_wait_for_it(
    redis_db: RedisDB, reports_server: EmbeddedServer
) -> None:
    url = reports_server.ensure_running()
    app = Henchman(redis_db.settings(shards={"reports": url}, redis_timeout=1.0))
    done = Recorder()

    @app.job(name="shards.outage")
    def work(tag: str) -> None:
        done.add(tag)

    try:
        with running_worker(app, app.settings.replace(queues=QUEUES)):
            work.set(queue="reports").perform_async("before")
            wait_for(lambda: "before" in done.items, what="a job on the reports shard")
            reports_server.stop()
            work.perform_async("default while down")
            work.set(queue="reports").perform_async("reports while down")  # buffered
            wait_for(lambda: "default while down" in done.items, what="the default queue's job")
            assert "reports while down" not in done.items
            reports_server.ensure_running()
            wait_for(
                lambda: "reports while down" in done.items, timeout=60, what="the buffered job"
            )
    finally:
        app.close()
    assert sorted(done.items) == ["before", "default while down", "reports while down"]
