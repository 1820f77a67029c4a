"""Runs tests/django_suite in a process of its own (Django's settings are per process): with
this environment's Django (5.2 and the django-tasks backport on Python 3.11), and with Django 6's
built-in ``django.tasks`` when ``HENCHMAN_DJANGO6_PYTHON`` names a Python that has it (``.ci/run``
makes one with Python 3.12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_suite(python: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HENCHMAN_DJANGO_SUITE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/django_suite"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.timeout(330)
def test_the_django_suite_passes_with_this_environments_django() -> None:
    pytest.importorskip("django")
    done = run_suite(sys.executable)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]


@pytest.mark.timeout(330)
@pytest.mark.skipif(
    not os.environ.get("HENCHMAN_DJANGO6_PYTHON"),
    reason="set HENCHMAN_DJANGO6_PYTHON to a Python with Django >= 6 (.ci/run does)",
)
def test_the_django_suite_passes_with_django_6() -> None:
    python = os.environ["HENCHMAN_DJANGO6_PYTHON"]
    version = subprocess.run(
        [python, "-c", "import django; print(django.VERSION[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert int(version) >= 6
    done = run_suite(python)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
