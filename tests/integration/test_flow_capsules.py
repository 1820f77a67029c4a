"""Capsules: named groups of queues with their own concurrency in one process, shown in the
process registry in Sidekiq 7's shape, refused when a queue would belong to two of them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from henchman import keys
from henchman.api import ProcessSet
from henchman.app import Henchman
from henchman.cli.run_cmd import run as run_cmd
from henchman.config import CapsuleSpec, QueueSpec
from henchman.errors import ConfigError
from henchman.server.launcher import Launcher
from henchman.web import create_app
from tests.conftest import RedisDB
from tests.integration._core_helpers import Recorder, queues, running_worker, wait_for
from tests.support.worker_process import fast_env, henchman_bin, stop, write_jobs

UNSAFE = CapsuleSpec("unsafe", (QueueSpec("unsafe"),), concurrency=1)


class Overlap:
    """Counts how many jobs run at once and remembers the most."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.now -= 1


def test_a_capsule_with_one_thread_runs_its_queue_one_job_at_a_time(
    app: Henchman, redis_db: RedisDB
) -> None:
    unsafe, default = Overlap(), Overlap()
    threads = Recorder()

    @app.job(name="flow.capsule_job")
    def work(queue: str) -> None:
        with unsafe if queue == "unsafe" else default:
            threads.add((queue, threading.current_thread().name))
            time.sleep(0.05)

    for _ in range(8):
        work.set(queue="unsafe").perform_async("unsafe")
        work.perform_async("default")
    settings = redis_db.settings(concurrency=4, capsules=(UNSAFE,))
    with running_worker(app, settings) as launcher:
        wait_for(lambda: len(threads) == 16, what="all sixteen jobs to run")
        assert [c.name for c in launcher.capsules] == ["default", "unsafe"]
    assert unsafe.most == 1
    names = {queue: {name.rsplit("-", 1)[0] for q, name in threads.items if q == queue}
             for queue in ("unsafe", "default")}  # fmt: skip
    assert names == {"unsafe": {"henchman-unsafe"}, "default": {"henchman-default"}}


async def get_page(redis_db: RedisDB, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(redis_db.settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui") as http:
        return await http.get(path)


def test_the_heartbeat_describes_capsules_in_sidekiq_7s_shape(
    app: Henchman, redis_db: RedisDB
) -> None:
    bulk = CapsuleSpec("bulk", (QueueSpec("imports", 3), QueueSpec("exports", 1)), 2, 7)
    settings = redis_db.settings(queues=queues("default"), concurrency=3, capsules=(bulk,))
    with running_worker(app, settings):
        (process,) = ProcessSet(redis_db.client).all()
        info = process.info
        assert info["concurrency"] == 5
        assert info["queues"] == ["default", "imports", "exports"]
        assert info["weights"] == [{"default": 0}, {"imports": 3, "exports": 1}]
        assert info["capsules"]["bulk"] == {
            "queues": ["imports", "exports"], "weights": {"imports": 3, "exports": 1},
            "concurrency": 2, "async_concurrency": 7,
        }  # fmt: skip
        assert [(c.name, c.concurrency) for c in process.capsules] == [("default", 3), ("bulk", 2)]
        page = asyncio.run(get_page(redis_db, "/busy"))
        assert page.status_code == 200
        assert "bulk (2)" in page.text
        assert "default (3)" in page.text


def test_startup_logs_one_line_per_capsule(
    app: Henchman, redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    settings = redis_db.settings(concurrency=2, capsules=(UNSAFE,))
    with caplog.at_level(logging.INFO, logger="henchman"), running_worker(app, settings):
        pass
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("capsule ")]
    assert lines == [
        "capsule default: concurrency 2 threads, 100 async; queues: default",
        "capsule unsafe: concurrency 1 threads, 100 async; queues: unsafe",
    ]


def test_a_stop_requeues_the_running_jobs_of_every_capsule(
    app: Henchman, redis_db: RedisDB
) -> None:
    started = Recorder()

    @app.job(name="flow.capsule_slow")
    def slow(queue: str) -> None:
        started.add(queue)
        time.sleep(3)

    slow.set(queue="unsafe").perform_async("unsafe")
    slow.perform_async("default")
    launcher = Launcher(app, redis_db.settings(timeout=0.2, capsules=(UNSAFE,)))
    launcher.start()
    wait_for(lambda: len(started) == 2, what="both slow jobs to start")
    launcher.stop()
    assert redis_db.client.llen(keys.queue("unsafe")) == 1
    assert redis_db.client.llen(keys.queue("default")) == 1


def test_a_queue_in_two_capsules_is_refused_when_the_worker_starts(
    app: Henchman, redis_db: RedisDB
) -> None:
    twice = CapsuleSpec("other", (QueueSpec("default"),), 1)
    launcher = Launcher(app, redis_db.settings(capsules=(twice,)))
    with pytest.raises(ConfigError, match="queue 'default' is served by capsules"):
        launcher.start()
    assert redis_db.client.smembers(keys.PROCESSES) == set()


def test_cli_refuses_a_queue_in_two_capsules_with_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        run_cmd, ["--capsule", "a:mail:1", "--capsule", "b:mail,sms:2"], catch_exceptions=False
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: queue 'mail' is served by capsules 'a' and 'b': in one process a queue "
        "belongs to one capsule (its concurrency limit would not hold)"
    ]


@pytest.mark.timeout(90)
def test_p2_children_run_the_capsules_given_on_the_command_line(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    write_jobs(tmp_path)
    with open(tmp_path / "supervisor.log", "ab") as out:
        supervisor = subprocess.Popen(
            [henchman_bin(), "run", "-r", "proc_jobs", "-P", "2", "-c", "2",
             "--capsule", "unsafe:unsafe:1"],
            cwd=tmp_path, env=fast_env(redis_db.url), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: len(ProcessSet(redis_db.client).all()) == 2, what="two children")
        for process in ProcessSet(redis_db.client).all():
            assert [(c.name, c.queues, c.concurrency) for c in process.capsules] == [
                ("default", ["default"], 2),
                ("unsafe", ["unsafe"], 1),
            ]
    finally:
        assert stop(supervisor) == 0
