"""The pure parts behind deploys: health decisions, sd_notify, pidfiles, status pipe, limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from henchman.cli.main import main
from henchman.cli.run_cmd import parse_processes
from henchman.errors import ConfigError
from henchman.server import pidfile
from henchman.server.health import BeatMonitor, stale_after
from henchman.server.memory_limit import over_memory, rss_of
from henchman.server.parent_watch import parent_gone, watch
from henchman.server.sd_notify import Notifier
from henchman.server.status_pipe import read_outcomes, writer


def test_a_process_is_healthy_only_after_a_recent_successful_heartbeat() -> None:
    monitor = BeatMonitor(stale_after=10)
    assert not monitor.healthy(now=0)
    monitor.record(True, now=100)
    assert monitor.healthy(now=105)
    assert not monitor.healthy(now=111), "a heartbeat thread that hangs counts as a failure"
    monitor.record(False, now=112)
    assert not monitor.healthy(now=112)
    assert monitor.describe(now=113) == {
        "healthy": False,
        "last_beat_ok": False,
        "last_beat_age": 1.0,
    }


def test_stale_after_allows_two_beats_and_one_redis_timeout() -> None:
    assert stale_after(10, 5) == 25


def test_memory_limit_compares_rss_in_kb_with_megabytes() -> None:
    assert not over_memory(100 * 1024, 100)
    assert over_memory(100 * 1024 + 1, 100)
    assert not over_memory(10**9, None)


def test_rss_of_reads_a_live_process_and_is_zero_for_a_gone_one() -> None:
    assert rss_of(os.getpid()) > 1024
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert rss_of(child.pid) == 0


def test_processes_accepts_a_count_or_auto_and_refuses_anything_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_processes(None) is None
    assert parse_processes("3") == 3
    assert parse_processes("auto") == parse_processes(" AUTO ") == "auto"
    with pytest.raises(SystemExit) as exit_info:
        parse_processes("0")
    assert exit_info.value.code == 2
    assert "--processes must be a positive integer or auto, got '0'" in capsys.readouterr().err


def test_status_pipe_carries_heartbeat_outcomes_in_order() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    report = writer(write_fd)
    assert read_outcomes(read_fd) == []
    report(True)
    report(False)
    report(True)
    assert read_outcomes(read_fd) == [True, False, True]
    os.close(write_fd)
    report(True)  # the reader's end is what matters; a closed fd is ignored, never raised
    assert read_outcomes(read_fd) == []
    os.close(read_fd)


def test_a_changed_parent_pid_means_the_supervisor_is_gone() -> None:
    assert not parent_gone(10, 10)
    assert parent_gone(10, 1)


def test_the_parent_watch_asks_for_a_stop_once_the_parent_pid_changes() -> None:
    parents = iter([10, 10, 10, 1])
    gone = threading.Event()
    calls: list[int] = []

    def on_gone() -> None:
        calls.append(1)
        gone.set()

    watch(10, on_gone, interval=0.01, getppid=lambda: next(parents, 1), ask_kernel=lambda: True)
    assert gone.wait(5)
    time.sleep(0.05)
    assert calls == [1], "asked once"


def test_a_parent_gone_before_the_watch_starts_is_noticed_at_once() -> None:
    calls: list[int] = []
    watch(10, lambda: calls.append(1), getppid=lambda: 1, ask_kernel=lambda: True)
    assert calls == [1]


def test_notifier_sends_one_datagram_per_message_to_the_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
        assert notifier.watchdog_interval == 4.0
        assert notifier.ready("2 worker processes")
        assert notifier.watchdog()
        assert listener.recv(100) == b"READY=1\nSTATUS=2 worker processes"
        assert listener.recv(100) == b"WATCHDOG=1"


def test_notifier_reaches_abstract_sockets() -> None:
    name = f"henchman-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert listener.recv(100) == b"STOPPING=1\nSTATUS=stopping"


def test_notifier_outside_systemd_does_nothing() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not Notifier({"NOTIFY_SOCKET": "/nonexistent/socket"}).ready("x")


def test_pidfile_round_trip_and_removal_only_of_our_own_pid(tmp_path: Path) -> None:
    path = tmp_path / "henchman.pid"
    pidfile.write(path, 1234)
    assert pidfile.read(path) == 1234
    pidfile.remove(path, 999)
    assert path.exists(), "a pidfile naming another process is left alone"
    pidfile.remove(path, 1234)
    assert not path.exists()


def test_pidfile_problems_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        pidfile.read(tmp_path / "missing.pid")
    (tmp_path / "bad.pid").write_text("henchman\n")
    with pytest.raises(ConfigError, match="does not hold a process id"):
        pidfile.read(tmp_path / "bad.pid")
    with pytest.raises(ConfigError, match="cannot write it"):
        pidfile.write(tmp_path / "no" / "dir.pid", 1)


def test_restart_requires_rolling_and_one_target(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["restart", "--pid", "1"])
    assert result.exit_code == 2
    assert "only rolling restarts are supported" in result.output
    result = runner.invoke(main, ["restart", "--rolling"])
    assert result.exit_code == 2
    assert "exactly one of --pidfile FILE or --pid PID" in result.output
    result = runner.invoke(main, ["restart", "--rolling", "--pidfile", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "cannot read it" in result.output


def test_restart_names_a_process_that_is_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that surely no longer exists
    result = CliRunner().invoke(main, ["restart", "--rolling", "--pid", str(child.pid)])
    assert result.exit_code == 1
    assert f"no process {child.pid} is running" in result.output


def test_restart_sends_usr2(tmp_path: Path) -> None:
    code = "import signal, sys, time\nsignal.signal(signal.SIGUSR2, lambda *a: sys.exit(7))\n"
    code += "print('ready', flush=True)\ntime.sleep(30)\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    pidfile.write(tmp_path / "s.pid", child.pid)
    result = CliRunner().invoke(
        main, ["restart", "--rolling", "--pidfile", str(tmp_path / "s.pid")]
    )
    assert result.exit_code == 0, result.output
    assert child.wait(10) == 7
    child.stdout.close()
