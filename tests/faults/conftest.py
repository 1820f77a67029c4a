"""Fault-suite fixtures: a worker directory with the recording jobs module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.worker_process import write_jobs


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_jobs(tmp_path)
    return tmp_path
