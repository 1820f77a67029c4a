"""The health endpoint and systemd notifications, on real processes and a real server.

The health tests run their own embedded server, since they stop it to take Redis away.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman.redis.embedded import EmbeddedServer
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, start_worker, stop, wait_for

HEARTBEAT = 1.0
REDIS_TIMEOUT = 1.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    own = EmbeddedServer(tmp_path / "home")
    own.ensure_running()
    yield own
    own.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def health_env(url: str) -> dict[str, str]:
    return fast_env(
        url, HENCHMAN_HEARTBEAT_INTERVAL=str(HEARTBEAT), HENCHMAN_REDIS_TIMEOUT=str(REDIS_TIMEOUT)
    )


def assert_503_from_a_failed_heartbeat(server: EmbeddedServer, port: int) -> None:
    """Stop Redis; wait until the body reports a process whose latest heartbeat failed (the
    socket is gone, so the next beat fails at once), and check that every answer reporting a
    failed beat was a 503: a failure makes the process unhealthy by itself, whatever the age of
    the beat, not only once heartbeats go silent. No clock is read on either side."""
    server.stop()
    answers: list[tuple[int, list[dict[str, object]]]] = []

    def failed_beat_seen() -> bool:
        status, body = probe(port)
        processes = body["processes"]
        assert isinstance(processes, list)
        answers.append((status, processes))
        return any(p["last_beat_ok"] is False for p in processes)

    wait_for(failed_beat_seen, timeout=30, what="a failed heartbeat after Redis went away")
    reporting = [
        status
        for status, processes in answers
        if any(p["last_beat_ok"] is False for p in processes)
    ]
    assert reporting, answers
    assert set(reporting) == {503}, answers


def test_health_is_200_while_heartbeats_succeed_and_503_once_redis_is_gone(
    server: EmbeddedServer, workdir: Path
) -> None:
    port = free_port()
    worker = start_worker(workdir, health_env(server.url), "--health-port", str(port))
    try:
        wait_for(lambda: probe(port)[0] == 200, what="a healthy worker")
        _status, body = probe(port)
        assert body["status"] == "ok"
        assert body["pid"] == worker.pid
        assert_503_from_a_failed_heartbeat(server, port)
        assert probe(port)[1]["status"] == "unhealthy"
        server.ensure_running()
        wait_for(lambda: probe(port)[0] == 200, what="healthy again once Redis is back")
    finally:
        assert stop(worker) == 0


def test_health_under_p2_needs_every_child_to_heartbeat(
    server: EmbeddedServer, workdir: Path
) -> None:
    port = free_port()
    supervisor = start_worker(
        workdir, health_env(server.url), "-P", "2", "--health-port", str(port)
    )
    try:
        wait_for(lambda: probe(port)[0] == 200, what="a healthy supervisor")
        body = probe(port)[1]
        assert body["pid"] == supervisor.pid
        processes = body["processes"]
        assert isinstance(processes, list)
        assert len(processes) == 2
        assert all(p["healthy"] and p["up"] for p in processes)
        assert_503_from_a_failed_heartbeat(server, port)
        server.ensure_running()
        wait_for(lambda: probe(port)[0] == 200, what="healthy again once Redis is back")
    finally:
        assert stop(supervisor) == 0


def test_health_port_is_bound_to_localhost_unless_told(redis_db: RedisDB, workdir: Path) -> None:
    port = free_port()
    worker = start_worker(workdir, fast_env(redis_db.url), "--health-port", str(port))
    try:
        wait_for(lambda: probe(port)[0] == 200, what="a healthy worker")
        log = (workdir / "worker.log").read_text()
        assert f"health endpoint listening on http://127.0.0.1:{port}/health" in log
    finally:
        assert stop(worker) == 0


def test_a_health_port_in_use_is_one_clear_error(redis_db: RedisDB, workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [henchman_bin(), "run", "-r", "proc_jobs", "--health-port", str(port)],
            cwd=workdir,
            env=fast_env(redis_db.url),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"--health-port {port}: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


class NotifySocket:
    """A unix datagram socket standing in for systemd's; records (sender pid, message)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="hm-notify-")  # short: sun_path is 108 bytes
        self.path = str(Path(self.directory) / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[int, str]] = []

    def receive(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except TimeoutError:
            return
        pid = 0
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", value[:12])[0]
        self.messages.append((pid, data.decode()))

    def wait_for(self, field: str, timeout: float = 30.0) -> int:
        """Receive until a message holds ``field``; return the sender's pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid, text in self.messages:
                if field in text.split("\n"):
                    return pid
            self.receive()
        raise AssertionError(f"no {field} in {self.messages}")

    def close(self) -> None:
        self.sock.close()
        Path(self.path).unlink(missing_ok=True)
        Path(self.directory).rmdir()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def test_a_worker_under_systemd_notifies_ready_watchdog_and_stopping(
    redis_db: RedisDB, workdir: Path, notify_socket: NotifySocket
) -> None:
    env = fast_env(redis_db.url, NOTIFY_SOCKET=notify_socket.path, WATCHDOG_USEC="2000000")
    worker = start_worker(workdir, env)
    try:
        assert notify_socket.wait_for("READY=1") == worker.pid
        assert notify_socket.wait_for("WATCHDOG=1") == worker.pid
    finally:
        worker.send_signal(15)
        assert notify_socket.wait_for("STOPPING=1") == worker.pid
        assert stop(worker) == 0


def test_a_p2_supervisor_alone_talks_to_systemd_once_every_child_is_up(
    redis_db: RedisDB, workdir: Path, notify_socket: NotifySocket
) -> None:
    env = fast_env(redis_db.url, NOTIFY_SOCKET=notify_socket.path)
    supervisor = start_worker(workdir, env, "-P", "2")
    try:
        assert notify_socket.wait_for("READY=1") == supervisor.pid
        ready = next(text for _, text in notify_socket.messages if "READY=1" in text)
        assert "STATUS=2 worker processes" in ready
    finally:
        supervisor.send_signal(15)
        assert notify_socket.wait_for("STOPPING=1") == supervisor.pid
        assert stop(supervisor) == 0
    assert {pid for pid, _ in notify_socket.messages} == {supervisor.pid}
