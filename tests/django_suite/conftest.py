"""The Django suite runs in a process of its own (Django's settings are per process): the main
suite starts it (tests/integrations/test_django.py), once with this Python's Django and, in CI,
once more with Django 6 on Python 3.12. It starts an embedded server of its own, configures the
project in tests/django_project and migrates an SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman.redis.embedded import EmbeddedServer

_HOME = Path(tempfile.mkdtemp(prefix="henchman-django-"))
SERVER = EmbeddedServer(_HOME / "home")
os.environ["HENCHMAN_REDIS_URL"] = SERVER.ensure_running()
os.environ["DJANGO_DB"] = str(_HOME / "db.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django_project.settings"

import django  # noqa: E402 - after the environment the settings read

django.setup()

from django.core.management import call_command  # noqa: E402

call_command("migrate", run_syncdb=True, verbosity=0)

ROOT = Path(__file__).resolve().parents[2]


def pytest_unconfigure(config: pytest.Config) -> None:
    SERVER.stop()


@pytest.fixture
def redis_client() -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(os.environ["HENCHMAN_REDIS_URL"])
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def worker(redis_client: object, tmp_path: Path) -> Iterator[Path]:
    """``henchman run --django`` in a subprocess; yields its log file."""
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("henchman")), "run", "--django",
             "--cpu-affinity", "off", "-c", "4"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield log
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
