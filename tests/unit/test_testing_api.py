"""The public surface of ``henchman.testing`` and the cost of its pytest plugin."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import henchman.testing
from henchman.testing import wait_until


def test_public_api_is_pinned() -> None:
    assert sorted(henchman.testing.__all__) == [
        "IterationHarness",
        "Recorder",
        "inline",
        "recording",
        "run_with_interruptions",
        "wait_until",
    ]
    for name in henchman.testing.__all__:
        assert getattr(henchman.testing, name) is not None


def test_importing_the_plugin_starts_nothing_and_loads_no_server_code() -> None:
    code = (
        "import sys, threading\n"
        "import henchman.testing.pytest_plugin\n"
        "loaded = [m for m in sys.modules if m.startswith('henchman.server')\n"
        "          or m in ('henchman.redis.embedded', 'henchman.testing.worker')]\n"
        "print(threading.active_count(), sorted(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "1 []"


def test_wait_until_returns_the_first_truthy_value() -> None:
    values = iter([0, None, "", "done"])
    assert wait_until(lambda: next(values), timeout=5, interval=0) == "done"


def test_wait_until_raises_timeout_error_after_the_deadline() -> None:
    calls: list[float] = []

    def never() -> bool:
        calls.append(time.monotonic())
        return False

    with pytest.raises(TimeoutError, match=r"still false after 0\.05 s"):
        wait_until(never, timeout=0.05, interval=0.01)
    assert calls[-1] - calls[0] >= 0.05
