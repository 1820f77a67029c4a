"""``henchman run`` freezes its start-up objects before the first job; an embedded worker does
not touch its host's heap (henchman.server.heap)."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import henchman
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for, write_jobs

FREEZE_JOB = """

import gc

@henchman.job
def freeze_count():
    _redis().set("test:frozen", gc.get_freeze_count())
"""


def test_a_worker_process_freezes_its_start_up_objects_before_the_first_job(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    jobs = write_jobs(tmp_path)
    jobs.write_text(jobs.read_text() + FREEZE_JOB)
    worker = start_worker(tmp_path, fast_env(redis_db.url))
    try:
        app = Henchman(redis_db.settings(reliable_push=False))
        app.client.push("proc_jobs.freeze_count", [], {"queue": "default"})
        app.close()
        wait_for(lambda: redis_db.client.get("test:frozen") is not None, what="the job")
        # The modules, the app and its clients: tens of thousands of objects, where a process
        # that never froze any reports 0.
        assert int(redis_db.client.get("test:frozen") or 0) > 10_000
    finally:
        assert stop(worker) == 0


def test_an_embedded_worker_leaves_its_host_process_heap_alone(app: Henchman) -> None:
    ran = threading.Event()

    @app.job(name="heap.one")
    def one() -> None:
        ran.set()

    before = gc.get_freeze_count()
    with henchman.embed(app, concurrency=1):
        app.client.push("heap.one", [], {"queue": "default"})
        assert ran.wait(30)
    assert gc.get_freeze_count() == before
