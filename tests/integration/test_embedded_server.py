"""The embedded Valkey server and its CLI, on real valkey-server processes.

Every server is started in a fresh ``tmp_path`` home, so these tests can never touch anyone's data;
a fixture finalizer stops it even when the test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

import henchman.redis.embedded as embedded_module
from henchman.cli.doctor_cmd import doctor
from henchman.cli.server_cmd import server as server_cli
from henchman.errors import RedisUnavailable
from henchman.redis.embedded import MAX_SOCKET_PATH_BYTES, EmbeddedServer

READY_LINE = "Ready to accept connections"
_SRC_DIR = Path(embedded_module.__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    yield path
    EmbeddedServer(path).stop()


@pytest.fixture
def server(home: Path) -> EmbeddedServer:
    return EmbeddedServer(home)


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def _ensure_running_in_subprocess(home: Path) -> subprocess.Popen[str]:
    code = (
        "import sys; from pathlib import Path; from henchman.redis.embedded import EmbeddedServer;"
        "print(EmbeddedServer(Path(sys.argv[1])).ensure_running())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_SRC_DIR), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True, env=env
    )


def _ready_count(server: EmbeddedServer) -> int:
    return server.logfile.read_text().count(READY_LINE)


def test_ensure_running_starts_a_server_that_answers_ping(server: EmbeddedServer) -> None:
    url = server.ensure_running()

    assert url == f"unix://{server.home / 'valkey.sock'}"
    with _client(url) as client:
        assert client.ping() is True
    assert (server.home / "valkey.pid").exists()
    assert (server.home / "appendonlydir").is_dir()


def test_status_reports_pid_and_version(server: EmbeddedServer) -> None:
    assert server.status()["running"] is False
    server.ensure_running()

    status = server.status()

    assert status["running"] is True
    assert status["pid"] == int(server.pidfile.read_text())
    assert status["version"]
    assert status["url"] == server.url
    assert status["home"] == str(server.home)


def test_server_outlives_the_process_that_started_it(server: EmbeddedServer) -> None:
    process = _ensure_running_in_subprocess(server.home)
    out, _ = process.communicate(timeout=30)

    assert process.returncode == 0
    assert out.strip() == server.url
    assert server.status()["running"] is True


def test_second_caller_reuses_the_running_server(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    pid = server.status()["pid"]

    process = _ensure_running_in_subprocess(server.home)
    out, _ = process.communicate(timeout=30)

    assert out.strip() == url
    assert server.status()["pid"] == pid
    assert _ready_count(server) == 1


def test_concurrent_starts_create_one_server(server: EmbeddedServer) -> None:
    processes = [_ensure_running_in_subprocess(server.home) for _ in range(4)]
    urls = {process.communicate(timeout=30)[0].strip() for process in processes}

    assert urls == {server.url}
    assert _ready_count(server) == 1


def test_queued_data_survives_stop_and_start(server: EmbeddedServer) -> None:
    with _client(server.ensure_running()) as client:
        client.lpush("queue:default", "job-1", "job-2")

    assert server.stop() is True
    assert server.status()["running"] is False
    with _client(server.ensure_running()) as client:
        assert client.lrange("queue:default", 0, -1) == ["job-2", "job-1"]


def test_stop_when_not_running_returns_false(tmp_path: Path) -> None:
    never_started = EmbeddedServer(tmp_path / "never")

    assert never_started.stop() is False
    assert not never_started.home.exists()


def test_stop_twice_returns_false_the_second_time(server: EmbeddedServer) -> None:
    server.ensure_running()

    assert server.stop() is True
    assert server.stop() is False


def test_stale_pidfile_does_not_block_start(server: EmbeddedServer) -> None:
    server.home.mkdir(parents=True)
    dead_pid = 4_194_305  # above the largest pid_max of Linux (2**22) and macOS: never alive
    server.pidfile.write_text(f"{dead_pid}\n")

    server.ensure_running()

    assert server.status()["running"] is True


def test_a_server_that_dies_at_startup_is_reported_at_once(server: EmbeddedServer) -> None:
    server.home.mkdir(parents=True)
    (server.home / "appendonlydir").write_text("a file where the AOF directory should be")

    with pytest.raises(RedisUnavailable, match="exited during startup"):
        server.ensure_running(timeout=30)


def test_long_home_path_puts_socket_in_a_short_directory(tmp_path: Path) -> None:
    home = tmp_path / ("a" * 60) / ("b" * 60)
    server = EmbeddedServer(home)
    try:
        url = server.ensure_running()

        assert len(os.fsencode(server.socket_path)) <= MAX_SOCKET_PATH_BYTES
        assert url.startswith("unix:///tmp/henchman-")
        assert (server.home / "socket-path").read_text().strip() == str(server.socket_path)
        assert EmbeddedServer(home).url == url
        with _client(url) as client:
            assert client.ping() is True
    finally:
        server.stop()
    assert not server.socket_path.parent.exists()


def test_cli_server_start_status_stop(home: Path) -> None:
    runner = CliRunner()
    env = {"HENCHMAN_HOME": str(home)}

    assert runner.invoke(server_cli, ["status"], env=env).exit_code == 3
    started = runner.invoke(server_cli, ["start"], env=env)
    assert started.exit_code == 0
    assert started.output.startswith("started: pid ")
    assert runner.invoke(server_cli, ["start"], env=env).output.startswith("already running")
    status = runner.invoke(server_cli, ["status"], env=env)
    assert (status.exit_code, status.output.startswith("running: pid ")) == (0, True)
    stopped = runner.invoke(server_cli, ["stop"], env=env)
    assert (stopped.exit_code, stopped.output.startswith("stopped")) == (0, True)
    again = runner.invoke(server_cli, ["stop"], env=env)
    assert (again.exit_code, again.output.startswith("not running")) == (0, True)


def test_doctor_passes_on_the_embedded_server(home: Path) -> None:
    env = {"HENCHMAN_HOME": str(home), "HENCHMAN_REDIS_URL": None, "REDIS_URL": None}

    result = CliRunner().invoke(doctor, [], env=env)

    assert result.exit_code == 0, result.output
    names = [line.split()[1] for line in result.output.splitlines()]
    assert names == ["binary", "redis", "version", "eviction", "persistence", "clock"]
    assert all(line.startswith("OK") for line in result.output.splitlines())


def test_doctor_fails_on_an_unreachable_redis(tmp_path: Path) -> None:
    url = f"unix://:secret@{tmp_path / 'missing.sock'}"

    result = CliRunner().invoke(doctor, [], env={"HENCHMAN_REDIS_URL": url})

    assert result.exit_code == 1
    assert "FAIL redis" in result.output
    assert "secret" not in result.output
