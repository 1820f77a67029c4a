"""Fault-suite fixtures: a worker directory with the recording jobs module."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman.redis.embedded import EmbeddedServer
from tests.support.worker_process import write_jobs


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_jobs(tmp_path)
    return tmp_path


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """An embedded server this test alone uses, so it may stop, freeze or kill it."""
    server = EmbeddedServer(tmp_path / "home")
    server.ensure_running()
    try:
        yield server
    finally:
        pid = server_pid(server)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # never leave a frozen server behind
        server.stop()


def server_pid(server: EmbeddedServer) -> int | None:
    """The pid of the server's ``valkey-server`` process (from its pidfile), if it runs."""
    try:
        pid = int(server.pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
