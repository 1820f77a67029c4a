"""The runnable examples work end to end (STYLE: examples are exercised in CI).

``examples/demo/run_demo.py`` runs in a temporary copy of the demo directory, so its embedded
server (``.henchman/`` beside the scripts) is fresh and never anyone's data; the copy's server is
stopped at teardown.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman.redis.embedded import EmbeddedServer

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture
def demo_copy(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target, ignore=shutil.ignore_patterns(".henchman", "__pycache__"))
    yield target
    EmbeddedServer(target / ".henchman").stop()


def _clean_env() -> dict[str, str]:
    """The environment minus anything that would point the demo at another server."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HENCHMAN_") and name != "REDIS_URL"
    }


@pytest.mark.timeout(60)
def test_demo_processes_every_job_and_stops_cleanly(demo_copy: Path) -> None:
    done = subprocess.run(
        [sys.executable, "run_demo.py", "--n", "10"],
        cwd=demo_copy,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    match = re.search(r"^all (\d+) jobs processed; the worker stopped cleanly", done.stdout, re.M)
    assert match is not None, done.stdout
    assert int(match.group(1)) == 7 + 10  # one of each kind (one 2 s ahead) + 10 bulk
    assert "already queued at start   0 in 'default', 0 scheduled" in done.stdout
    assert (demo_copy / ".henchman" / "valkey.sock").exists() or (
        demo_copy / ".henchman" / "socket-path"
    ).exists()
