"""``henchman web``: serves the UI standalone on 127.0.0.1 by default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from henchman.cli.main import main
from henchman.cli.web_cmd import DEFAULT_PORT, served_hosts, web
from tests.conftest import RedisDB


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_defaults_are_loopback_and_7433() -> None:
    params = {p.name: p.default for p in web.params}
    assert params["host"] == "127.0.0.1"
    assert params["port"] == DEFAULT_PORT == 7433
    assert "web" in main.commands


def test_serves_the_ui_until_interrupted(redis_db: RedisDB) -> None:
    port = _free_port()
    env = {**os.environ, "HENCHMAN_REDIS_URL": redis_db.url, "HENCHMAN_WEB_PASSWORD": "pw"}
    process = subprocess.Popen(
        [sys.executable, "-m", "henchman", "web", "--port", str(port), "--read-only"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/stats", auth=("u", "pw"))
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "henchman web did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["henchman"]["processed"] == 0
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert "read-only" in out


def test_bad_extension_is_a_usage_error(redis_db: RedisDB) -> None:
    result = CliRunner().invoke(
        main, ["web", "--extension", "nope"], env={"HENCHMAN_REDIS_URL": redis_db.url}
    )
    assert result.exit_code == 2
    assert "MODULE:ATTR" in result.output


def test_unreachable_redis_exits_2() -> None:
    result = CliRunner().invoke(main, ["web"], env={"HENCHMAN_REDIS_URL": "redis://127.0.0.1:1"})
    assert result.exit_code == 2
    assert "cannot reach Redis" in result.output


def test_password_on_the_command_line_warns_and_names_the_variable() -> None:
    result = CliRunner().invoke(
        main, ["web", "--password", "hunter2"], env={"HENCHMAN_REDIS_URL": "redis://127.0.0.1:1"}
    )
    warnings = [line for line in result.stderr.splitlines() if "--password" in line]
    assert len(warnings) == 1
    assert "HENCHMAN_WEB_PASSWORD" in warnings[0]
    assert "hunter2" not in result.output


def test_password_from_the_environment_does_not_warn() -> None:
    env = {"HENCHMAN_REDIS_URL": "redis://127.0.0.1:1", "HENCHMAN_WEB_PASSWORD": "hunter2"}
    result = CliRunner().invoke(main, ["web"], env=env)
    assert "--password" not in result.stderr


def test_served_hosts_are_loopback_the_bind_address_and_allowed_hosts() -> None:
    assert served_hosts("127.0.0.1", ()) == ["127.0.0.1", "localhost", "::1"]
    assert served_hosts("10.0.0.5", ("ops.example",))[-2:] == ["10.0.0.5", "ops.example"]
    assert "0.0.0.0" not in served_hosts("0.0.0.0", ())


def test_standalone_answers_only_the_host_names_it_is_served_on(redis_db: RedisDB) -> None:
    port = _free_port()
    env = {**os.environ, "HENCHMAN_REDIS_URL": redis_db.url}
    command = ["web", "--port", str(port), "--allowed-host", "ops.example"]
    process = subprocess.Popen(
        [sys.executable, "-m", "henchman", *command],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/stats"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert httpx.get(url).status_code == 200
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "henchman web did not start"
                time.sleep(0.1)
        assert httpx.get(url, headers={"host": f"localhost:{port}"}).status_code == 200
        assert httpx.get(url, headers={"host": "ops.example"}).status_code == 200
        assert httpx.get(url, headers={"host": f"rebound.evil:{port}"}).status_code == 400
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
