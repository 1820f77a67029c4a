"""henchman installed without extras (``pip install henchman``): the CLI and the public API load
and work; only the Web UI and the integrations need theirs. Checked in a child process in which
the extras' packages cannot be imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCK = (
    "import sys\n"
    "for name in ('jinja2', 'starlette', 'uvicorn', 'a2wsgi', 'prometheus_client', 'opentelemetry',"
    " 'sentry_sdk', 'django', 'cryptography', 'fastapi', 'flask'):\n"
    "    sys.modules[name] = None\n"
)


@pytest.mark.parametrize(
    "code",
    [
        "import henchman, henchman.api, henchman.testing; print(henchman.__version__)",
        "from henchman.cli.main import entry; entry(['--help'])",
        "from henchman.cli.main import entry; entry(['run', '--help'])",
    ],
    ids=["public-api", "cli-help", "run-help"],
)
def test_henchman_works_without_its_extras(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_henchman_web_without_the_extra_is_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCK + "from henchman.cli.main import entry; entry(['web'])"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "henchman[web]" in done.stderr
    assert "Traceback" not in done.stderr
