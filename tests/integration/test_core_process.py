"""The process registry, running-work hash, stats and remote signals of an in-process worker, in
Sidekiq's layout."""

from __future__ import annotations

import re
import threading

import orjson

from henchman import keys
from henchman.app import Henchman
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.integration._core_helpers import (
    DEADLINE,
    Recorder,
    finish,
    queues,
    running_worker,
    wait_for,
)

INFO_FIELDS = {
    "hostname",
    "started_at",
    "pid",
    "tag",
    "concurrency",
    "queues",
    "labels",
    "identity",
    "version",
}


def _process_hash(redis_db: RedisDB, identity: str) -> dict[str, bytes]:
    return {k.decode(): v for k, v in redis_db.client.hgetall(keys.process(identity)).items()}


def test_a_running_worker_is_listed_in_processes(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        members = redis_db.client.smembers(keys.PROCESSES)
        assert members == {worker.identity.encode()}


def test_the_process_hash_holds_well_formed_info_json(app: Henchman, redis_db: RedisDB) -> None:
    settings = redis_db.settings(
        queues=queues("a", "b"), concurrency=3, tag="core-tag", labels=("l1",)
    )
    with running_worker(app, settings) as worker:
        fields = _process_hash(redis_db, worker.identity)
        info = orjson.loads(fields["info"])
    assert info.keys() >= INFO_FIELDS
    assert info["identity"] == worker.identity
    assert info["queues"] == ["a", "b"]
    assert info["concurrency"] == 3
    assert info["tag"] == "core-tag"
    assert info["labels"] == ["l1"]
    assert isinstance(info["pid"], int)
    assert isinstance(info["started_at"], float)


def test_the_process_hash_carries_the_beat_fields_and_a_ttl(
    app: Henchman, redis_db: RedisDB
) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        fields = _process_hash(redis_db, worker.identity)
        ttl = redis_db.client.ttl(keys.process(worker.identity))
    assert {"busy", "beat", "quiet", "rss", "rtt_us", "concurrency"} <= fields.keys()
    assert fields["quiet"] == b"false"
    assert float(fields["beat"]) > 0
    assert int(fields["busy"]) == 0
    assert 0 < ttl <= 60


def test_the_identity_is_hostname_pid_nonce(app: Henchman, redis_db: RedisDB) -> None:
    import os
    import socket

    with running_worker(app, redis_db.settings()) as worker:
        host, pid, nonce = worker.identity.rsplit(":", 2)
    assert host == socket.gethostname()
    assert int(pid) == os.getpid()
    assert nonce


def test_stop_removes_the_process_from_the_registry(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        identity = worker.identity
    assert redis_db.client.scard(keys.PROCESSES) == 0
    assert not redis_db.client.exists(keys.process(identity))
    assert not redis_db.client.exists(keys.process_work(identity))


def test_stop_unregisters_the_working_lists(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()):
        assert redis_db.client.hlen(keys.WORKING_LISTS) == 1
    assert redis_db.client.hlen(keys.WORKING_LISTS) == 0


def test_the_work_hash_shows_a_running_job(app: Henchman, redis_db: RedisDB) -> None:
    release = threading.Event()
    started = Recorder()

    @app.job(name="core.shows_in_work")
    def work() -> None:
        started.add(1)
        release.wait(DEADLINE)

    jid = work.perform_async()
    with running_worker(app, redis_db.settings()) as worker:
        try:
            entries = wait_for(
                lambda: redis_db.client.hgetall(keys.process_work(worker.identity)),
                what="the running job in the work hash",
            )
            busy = wait_for(
                lambda: int(_process_hash(redis_db, worker.identity)["busy"]),
                what="busy = 1 in the process hash",
            )
        finally:
            release.set()
    [entry] = [orjson.loads(v) for v in entries.values()]
    assert entry["queue"] == "default"
    assert entry["payload"]["jid"] == jid
    assert isinstance(entry["run_at"], int)
    assert busy == 1


def test_stats_are_flushed_to_lifetime_and_daily_counters(app: Henchman, redis_db: RedisDB) -> None:
    ran = Recorder()

    @app.job(name="core.stats_ok")
    def ok() -> None:
        ran.add(1)

    @app.job(name="core.stats_fail")
    def fail() -> None:
        ran.add(1)
        raise ValueError("x")

    ok.perform_async()
    ok.perform_async()
    fail.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(lambda: redis_db.client.zcard(keys.RETRY), what="the failure record")
        wait_for(lambda: len(ran) == 3, what="all three jobs")
    # Processed counts failures too, as in Sidekiq.
    assert redis_db.client.get(keys.STAT_PROCESSED) == b"3"
    assert redis_db.client.get(keys.STAT_FAILED) == b"1"
    daily = sorted(k.decode() for k in redis_db.client.keys("stat:processed:*"))
    assert len(daily) == 1
    assert re.fullmatch(r"stat:processed:\d{4}-\d{2}-\d{2}", daily[0])
    assert redis_db.client.get(daily[0]) == b"3"
    day = daily[0].rsplit(":", 1)[1]
    assert redis_db.client.get(keys.stat_failed_day(day)) == b"1"
    assert redis_db.client.ttl(daily[0]) > 0


def test_stats_are_flushed_while_running_at_heartbeat(app: Henchman, redis_db: RedisDB) -> None:
    @app.job(name="core.stats_beat")
    def ok() -> None:
        pass

    ok.perform_async()
    with running_worker(app, redis_db.settings()):
        wait_for(
            lambda: redis_db.client.get(keys.STAT_PROCESSED) == b"1",
            what="stat:processed flushed by a heartbeat",
        )


def _run_in_thread(launcher: Launcher) -> threading.Thread:
    thread = threading.Thread(target=launcher.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    return thread


def test_a_remote_tstp_quiets_a_worker_running_its_loop(app: Henchman, redis_db: RedisDB) -> None:
    launcher = Launcher(app, redis_db.settings())
    thread = _run_in_thread(launcher)
    try:
        wait_for(
            lambda: redis_db.client.sismember(keys.PROCESSES, launcher.identity),
            what="the worker to register",
        )
        redis_db.client.lpush(keys.process_signals(launcher.identity), "TSTP")
        wait_for(
            lambda: _process_hash(redis_db, launcher.identity).get("quiet") == b"true",
            what='quiet = "true" in the process hash',
        )
    finally:
        launcher.stop()
        thread.join(DEADLINE)
        finish(launcher)


def test_a_remote_term_stops_a_worker_running_its_loop(app: Henchman, redis_db: RedisDB) -> None:
    launcher = Launcher(app, redis_db.settings())
    thread = _run_in_thread(launcher)
    try:
        wait_for(
            lambda: redis_db.client.sismember(keys.PROCESSES, launcher.identity),
            what="the worker to register",
        )
        redis_db.client.lpush(keys.process_signals(launcher.identity), "TERM")
        thread.join(DEADLINE)
        assert not thread.is_alive()
        assert not redis_db.client.sismember(keys.PROCESSES, launcher.identity)
    finally:
        launcher.stop()
        finish(launcher)


def test_a_remote_tstp_quiets_a_started_worker(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        redis_db.client.lpush(keys.process_signals(worker.identity), "TSTP")
        wait_for(
            lambda: _process_hash(redis_db, worker.identity).get("quiet") == b"true",
            what='quiet = "true" in the process hash',
            timeout=3.0,
        )


def test_a_remote_term_stops_a_started_worker(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        redis_db.client.lpush(keys.process_signals(worker.identity), "TERM")
        wait_for(worker.done.is_set, what="the worker to stop", timeout=3.0)


def test_a_remote_signal_is_popped_once(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        redis_db.client.lpush(keys.process_signals(worker.identity), "TTIN")
        wait_for(
            lambda: not redis_db.client.exists(keys.process_signals(worker.identity)),
            what="the signal to be popped",
        )


def test_quiet_shows_in_the_heartbeat(app: Henchman, redis_db: RedisDB) -> None:
    with running_worker(app, redis_db.settings()) as worker:
        worker.quiet()
        wait_for(
            lambda: _process_hash(redis_db, worker.identity).get("quiet") == b"true",
            what='quiet = "true" in the process hash',
        )


def test_a_quiet_worker_fetches_no_new_jobs(app: Henchman, redis_db: RedisDB) -> None:
    ran = Recorder()

    @app.job(name="core.after_quiet")
    def work() -> None:
        ran.add(1)

    with running_worker(app, redis_db.settings()) as worker:
        worker.quiet()
        wait_for(worker.capsules[0].idle, what="the workers to go idle")
        work.perform_async()
        beat = _process_hash(redis_db, worker.identity)["beat"]
        wait_for(
            lambda: _process_hash(redis_db, worker.identity)["beat"] != beat,
            what="a heartbeat after the push",
        )
        assert redis_db.client.llen(keys.queue("default")) == 1
    assert ran.items == []


def test_stop_leaves_no_heartbeat_behind(app: Henchman, redis_db: RedisDB) -> None:
    launcher = Launcher(app, redis_db.settings())
    launcher.start()
    original = launcher.heartbeat.beat
    in_beat, proceed = threading.Event(), threading.Event()

    def slow_beat(**kwargs: object) -> str | None:
        in_beat.set()
        proceed.wait(DEADLINE)
        return original(**kwargs)  # type: ignore[arg-type]

    launcher.heartbeat.beat = slow_beat  # type: ignore[method-assign]
    stopper = threading.Thread(target=launcher.stop)
    try:
        assert in_beat.wait(DEADLINE), "the housekeeper never beat"
        stopper.start()
        # A fixed stop returns only after the beat in flight ends; this bounded wait lets the
        # buggy one return first. Either way the beat is released next.
        launcher.done.wait(2.0)
        proceed.set()
        stopper.join(DEADLINE)
        assert not redis_db.client.sismember(keys.PROCESSES, launcher.identity)
    finally:
        proceed.set()
        launcher.stop()
        finish(launcher)
