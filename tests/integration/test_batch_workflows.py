"""Workflows on batches, end to end with an in-process worker: a chain runs its steps one after
another (a failing step holds it until its retry succeeds), a chord runs its body once after
every header job succeeded, and nested workflows finish inside out."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

import henchman
from henchman.api import BatchStatus
from henchman.app import Henchman
from henchman.errors import BatchError
from henchman.testing.worker import TestWorker
from tests.conftest import RedisDB


class Steps:
    def __init__(self, app: Henchman, redis_db: RedisDB) -> None:
        r = redis_db.client
        self.redis = r

        @app.job(retry=3)
        def step(name: str) -> None:
            jid = henchman.current_job().jid  # type: ignore[union-attr]
            r.rpush("log", f"start:{name}")
            if r.sismember("fail-once", name) and r.set(f"failed:{jid}", 1, nx=True):
                raise ValueError(f"{name} fails once")
            r.rpush("log", f"done:{name}")

        @step.retry_in
        def _soon(count: int, exc: BaseException, payload: dict[str, Any]) -> float:
            return 0.0

        @app.job
        def finished(status: dict[str, Any], options: dict[str, Any]) -> None:
            r.rpush("log", f"callback:{status['event']}:{options.get('name', '')}")

        self.step, self.finished = step, finished

    def log(self) -> list[str]:
        return [entry.decode() for entry in self.redis.lrange("log", 0, -1)]


@pytest.fixture
def steps(app: Henchman, redis_db: RedisDB) -> Steps:
    return Steps(app, redis_db)


def test_chain_runs_steps_in_order_and_waits_for_a_retried_step(
    app: Henchman, redis_db: RedisDB, steps: Steps
) -> None:
    redis_db.client.sadd("fail-once", "s3")
    flow = henchman.chain(*(steps.step.s(f"s{n}") for n in range(1, 6)))
    root = flow.on("success", steps.finished, {"name": "chain"}).perform_async()
    assert redis_db.client.llen("queue:default") == 1  # only the first step is pushed
    with TestWorker(app) as worker:
        worker.wait_until(lambda: "callback:success:chain" in steps.log(), timeout=30)
        time.sleep(0.3)
    assert steps.log() == [
        "start:s1", "done:s1", "start:s2", "done:s2", "start:s3",
        "start:s3", "done:s3", "start:s4", "done:s4", "start:s5", "done:s5",
        "callback:success:chain",
    ]  # fmt: skip
    status = BatchStatus(root.bid, redis_db.client)
    assert status.success
    assert len(status.child_bids) == 5


def test_chord_runs_its_body_once_after_every_header_job(
    app: Henchman, redis_db: RedisDB, steps: Steps
) -> None:
    redis_db.client.sadd("fail-once", "h50")
    flow = henchman.chord([steps.step.s(f"h{n}") for n in range(100)], steps.step.s("body"))
    flow.perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: "done:body" in steps.log(), timeout=30)
        time.sleep(0.3)
    log = steps.log()
    assert log.count("start:body") == 1
    header_done = [i for i, entry in enumerate(log) if entry.startswith("done:h")]
    assert len(header_done) == 100
    assert max(header_done) < log.index("start:body")
    assert log.count("start:h50") == 2


def test_nested_workflow_finishes_inside_out(
    app: Henchman, redis_db: RedisDB, steps: Steps
) -> None:
    inner = henchman.chain(steps.step.s("c"), steps.step.s("d"))
    flow = henchman.chain(
        steps.step.s("a"), henchman.group(steps.step.s("b"), inner), steps.step.s("e")
    )
    flow.on("success", steps.finished, {"name": "root"}).perform_async()
    with TestWorker(app) as worker:
        worker.wait_until(lambda: "callback:success:root" in steps.log(), timeout=30)
    log = steps.log()
    assert log.index("done:a") < log.index("start:b")
    assert log.index("done:a") < log.index("start:c") < log.index("done:c") < log.index("start:d")
    assert max(log.index("done:b"), log.index("done:d")) < log.index("start:e")
    assert log[-1] == "callback:success:root"


def test_group_is_one_batch_of_its_jobs(app: Henchman, redis_db: RedisDB, steps: Steps) -> None:
    root = henchman.group(steps.step.s("x"), steps.step.s("y")).perform_async(description="g")
    status = BatchStatus(root.bid, redis_db.client)
    assert (status.total, status.pending, status.description) == (2, 2, "g")
    bids = {orjson.loads(r)["bid"] for r in redis_db.client.lrange("queue:default", 0, -1)}
    assert bids == {root.bid}


def test_workflow_steps_must_be_signatures(steps: Steps) -> None:
    with pytest.raises(BatchError, match=r"chain\(\) takes job\.s\(\.\.\.\) signatures"):
        henchman.chain(steps.step.s("a"), "not a step")
    with pytest.raises(BatchError, match="at least one step"):
        henchman.chain()
