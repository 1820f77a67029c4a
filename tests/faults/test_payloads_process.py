"""Huge and malformed payloads through a real worker process: every good job runs
once, every bad entry ends in the retry or dead set, nothing is lost and the worker lives on."""

from __future__ import annotations

import collections
from pathlib import Path

import orjson

from henchman import keys
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, start_worker, stop, wait_for

OPTIONS = {"queue": "default", "retry": True}

MALFORMED = [
    b"{not json",
    b"\xff\xfe\x00 not utf-8",
    b"[1, 2, 3]",
    b'"a string"',
    b"",
    orjson.dumps({"args": [1], "jid": "noclass000000000000000000", "retry": False}),
    orjson.dumps({"class": 123, "args": [1], "jid": "intclass00000000000000000", "retry": False}),
    orjson.dumps({"class": "proc_jobs.record", "args": {"n": 1}, "jid": "dictargs000000000000000"}),
    b'{"class": "proc_jobs.record", "args": [' + b"1," * 500_000 + b"}",  # 1 MB, cut short
]


def test_huge_and_malformed_payloads_through_a_worker_process(
    redis_db: RedisDB, workdir: Path
) -> None:
    app = Henchman(redis_db.settings(reliable_push=False))
    good = app.client.push_bulk("proc_jobs.record", [[i] for i in range(200)], OPTIONS)
    huge = [
        app.client.push("proc_jobs.record", ["x" * 2_000_000], OPTIONS),  # a 2 MB string
        app.client.push("proc_jobs.record", [list(range(200_000))], OPTIONS),  # 200k numbers
    ]
    unknown = app.client.push("proc_jobs.no_such_job", [1], {**OPTIONS, "retry": 1})
    for raw in MALFORMED:
        redis_db.client.lpush(keys.queue("default"), raw)
    after = app.client.push_bulk("proc_jobs.record", [[i] for i in range(200)], OPTIONS)
    app.close()
    expected = good + after + [jid for jid in huge if jid]

    worker = start_worker(workdir, fast_env(redis_db.url))
    try:
        wait_for(lambda: redis_db.client.llen("test:done") >= len(expected), what="good jobs")
        wait_for(
            lambda: redis_db.client.zcard(keys.DEAD) == len(MALFORMED)
            and redis_db.client.zcard(keys.RETRY) == 1,
            what="every bad entry recorded",
        )
    finally:
        assert stop(worker) == 0
    done = collections.Counter(j.decode() for j in redis_db.client.lrange("test:done", 0, -1))
    lost = set(expected) - set(done)
    twice = [jid for jid, n in done.items() if n > 1]
    print(f"payloads: {len(done)} executed, {len(lost)} lost, {len(twice)} run twice")
    assert not lost
    assert not twice
    assert set(done) == set(expected)
    [retry] = redis_db.client.zrange(keys.RETRY, 0, -1)
    assert orjson.loads(retry)["jid"] == unknown
    assert redis_db.client.llen(keys.queue("default")) == 0
    assert not any(redis_db.client.llen(k) for k in redis_db.client.hkeys(keys.WORKING_LISTS))
