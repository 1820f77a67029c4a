"""henchman and real Ruby Sidekiq on one Redis, with Debian's ruby-sidekiq 6.4.1.

Both directions of job flow, Sidekiq's API reading henchman's processes, stats and retries, and
Sidekiq's quiet/stop acting on a henchman process. ``.ci/run`` installs ruby-sidekiq; elsewhere
these tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from henchman import keys
from henchman.app import Henchman
from henchman.config import Settings
from henchman.redis.embedded import EmbeddedServer
from henchman.server.launcher import Launcher
from henchman.testing import wait_until

HERE = Path(__file__).resolve().parent


def _sidekiq_available() -> bool:
    if shutil.which("ruby") is None or shutil.which("sidekiq") is None:
        return False
    probe = subprocess.run(["ruby", "-e", 'require "sidekiq"'], capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _sidekiq_available(), reason="Ruby Sidekiq is not installed (apt-get install ruby-sidekiq)"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """Its own server: redis-rb ignores ?db= in unix URLs, so Ruby needs database 0."""
    own = EmbeddedServer(tmp_path / "home")
    own.ensure_running()
    yield own
    own.stop()


@pytest.fixture
def client(server: EmbeddedServer) -> Iterator[redis.Redis]:
    conn = redis.Redis(unix_socket_path=str(server.socket_path))
    yield conn
    conn.close()


def ruby(server: EmbeddedServer, code: str) -> str:
    result = subprocess.run(
        ["ruby", "-r", "sidekiq", "-r", "sidekiq/api", "-e", code],
        env={**os.environ, "REDIS_URL": server.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def settings_for(server: EmbeddedServer, **overrides: object) -> Settings:
    return Settings(
        redis_url=server.url,
        heartbeat_interval=0.3,
        poll_interval_average=0.2,
        fetch_timeout=0.3,
        timeout=5.0,
    ).replace(**overrides)


def test_ruby_sidekiq_runs_a_job_pushed_by_henchman(
    server: EmbeddedServer, client: redis.Redis
) -> None:
    app = Henchman(settings_for(server))
    app.enqueue("RubyJob", 1, "two", {"three": 3.5}, queue="ruby")
    app.enqueue_in(0.5, "RubyJob", "scheduled", queue="ruby")
    app.close()
    sidekiq = subprocess.Popen(
        ["sidekiq", "-r", str(HERE / "sidekiq_app.rb"), "-q", "ruby", "-c", "2", "-t", "2"],
        env={**os.environ, "REDIS_URL": server.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: client.llen("interop:ruby_ran") == 2, timeout=60)
    finally:
        sidekiq.terminate()
        sidekiq.wait(30)
    ran = [json.loads(r) for r in client.lrange("interop:ruby_ran", 0, -1)]
    assert sorted(ran, key=json.dumps) == sorted(
        [[1, "two", {"three": 3.5}], ["scheduled"]], key=json.dumps
    )


def test_henchman_runs_a_job_pushed_by_ruby_sidekiq(
    server: EmbeddedServer, client: redis.Redis
) -> None:
    app = Henchman(settings_for(server, queues=(__import__("henchman").QueueSpec("py"),)))
    seen: list[list[object]] = []
    done = threading.Event()

    @app.job(name="HardJob")
    def hard_job(*args: object) -> None:
        seen.append(list(args))
        done.set()

    ruby(
        server,
        'Sidekiq::Client.push("class" => "HardJob", "queue" => "py", '
        '"args" => [1, "x", {"k" => [true, nil]}])',
    )
    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        assert done.wait(30)
    finally:
        launcher.stop()
        app.close()
    assert seen == [[1, "x", {"k": [True, None]}]]


def test_sidekiq_api_reads_henchman_processes_stats_and_retries(
    server: EmbeddedServer, client: redis.Redis
) -> None:
    app = Henchman(settings_for(server))

    @app.job(name="FailingJob", backtrace=True)
    def failing() -> None:
        raise ValueError("nope <b>")

    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        failing.perform_async()
        wait_until(lambda: client.zcard(keys.RETRY) == 1, timeout=30)
        wait_until(lambda: client.get(keys.STAT_FAILED) == b"1", timeout=30)
        report = json.loads(
            ruby(
                server,
                """
            out = {}
            out["processes"] = Sidekiq::ProcessSet.new.map { |p|
              [p["identity"], p["concurrency"], p["queues"], p["busy"]] }
            stats = Sidekiq::Stats.new
            out["stats"] = [stats.processed, stats.failed, stats.retry_size]
            out["retries"] = Sidekiq::RetrySet.new.map { |j|
              [j.klass, j.jid, j["error_message"], j.error_backtrace.is_a?(Array)] }
            out["history"] = Sidekiq::Stats::History.new(2).processed.values.sum
            puts JSON.generate(out)
        """,
            )
        )
    finally:
        launcher.stop()
        app.close()
    assert report["processes"] == [[launcher.identity, 10, ["default"], 0]]
    assert report["stats"] == [1, 1, 1]
    [[klass, jid, message, has_backtrace]] = report["retries"]
    assert (klass, message, has_backtrace) == ("FailingJob", "nope <b>", True)
    assert jid == orjson.loads(client.zrange(keys.RETRY, 0, 0)[0])["jid"]
    assert report["history"] == 1


def test_sidekiq_quiet_and_stop_act_on_a_henchman_process(
    server: EmbeddedServer, client: redis.Redis
) -> None:
    app = Henchman(settings_for(server))
    launcher = Launcher(app, app.settings)
    launcher.start()
    try:
        wait_until(lambda: client.sismember(keys.PROCESSES, launcher.identity), timeout=10)
        ruby(
            server,
            f'Sidekiq::ProcessSet.new.find {{ |p| p["identity"] == "{launcher.identity}" }}.quiet!',
        )
        wait_until(lambda: client.hget(launcher.identity, "quiet") == b"true", timeout=10)
        ruby(
            server,
            f'Sidekiq::ProcessSet.new.find {{ |p| p["identity"] == "{launcher.identity}" }}.stop!',
        )
        wait_until(launcher.done.is_set, timeout=30)
    finally:
        launcher.stop()
        app.close()
    assert not client.sismember(keys.PROCESSES, launcher.identity)
